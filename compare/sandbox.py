"""Run student code in a child process with limits, and get back only what it returned.

The child gets wall-clock, CPU-time and address-space limits (resource.setrlimit), its own
process group (killed whole on expiry), no torch (hand-derived means by hand), and a request
of plain JSON. Whatever the student's code does there, sys.exit, os._exit, a segfault, an
endless C call or a patched grader, it ends that child and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import compare


@dataclass(frozen=True)
class Limits:
    """What one task's child may use. Generous by default; tests inject tight ones."""

    wall_s: float = 120.0  # seconds on the clock, then the process group is killed
    cpu_s: int = 60  # CPU seconds (RLIMIT_CPU): an endless C loop dies here, however busy
    memory_bytes: int = 2 << 30  # address space (RLIMIT_AS)


@dataclass(frozen=True)
class ChildResult:
    """What came back from one child: its answer, or why there is none."""

    answer: dict[str, Any] | None  # the probe's outputs, None if it died first
    failure: str  # empty when answer is set; else one line saying what happened
    stderr_tail: str  # the last lines the child printed on stderr


def encode(value: object) -> object:
    """Arrays as tagged lists: JSON both ways, so nothing is ever unpickled."""
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: object) -> Any:
    """The inverse of encode."""
    if isinstance(value, dict):
        if "__array__" in value:
            dtype = str(value.get("dtype", "float64"))
            if dtype not in ("float32", "float64", "int64", "int32", "bool"):
                dtype = "float64"
            shape = tuple(int(s) for s in value.get("shape", []))
            return np.asarray(value["__array__"], dtype=dtype).reshape(shape)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def run_child(
    folder: Path, request: dict[str, Any], limits: Limits, entry: str = "compare.exercises.probe"
) -> ChildResult:
    """Run `entry`.main on `request` in `folder` (by default the probe of a student's manual/)."""
    root = Path(str(compare.__file__)).parent.parent  # where our own package is importable
    with tempfile.TemporaryDirectory(prefix="gradcompare-grade-") as tmp:
        req, resp = Path(tmp) / "request.json", Path(tmp) / "answer.json"
        req.write_text(json.dumps(encode({**request, "folder": str(folder.resolve())})))
        # -I: no PYTHONPATH, no user site, no current folder on sys.path; the probe adds the
        # student's folder itself, after our code is imported.
        # The limits come first, before any of our imports or the student's: hard limits
        # equal to the soft ones, so the student's code cannot raise them again.
        cpu, mem = limits.cpu_s, limits.memory_bytes
        code = (
            "import resource as r; "
            f"r.setrlimit(r.RLIMIT_CPU, ({cpu}, {cpu})); "
            f"r.setrlimit(r.RLIMIT_AS, ({mem}, {mem})); "
            "r.setrlimit(r.RLIMIT_CORE, (0, 0)); "
            f"import sys; sys.path.insert(0, {str(root)!r}); "
            f"from {entry} import main; main(sys.argv[1], sys.argv[2])"
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "OPENBLAS_NUM_THREADS": "1",  # BLAS threads reserve address space by the GiB
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
        }
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", code, str(req), str(resp)],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed whole on expiry
        )
        try:
            _, err = proc.communicate(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
            _, err = proc.communicate()
            return ChildResult(
                None,
                f"stopped after {limits.wall_s:g} s on the clock (a loop that never ends, or "
                "one waiting for something?)",
                _tail(err),
            )
        finally:
            _kill(proc)  # anything it left running in its group goes too
        tail = _tail(err)
        if proc.returncode == 0 and resp.is_file():
            try:
                answer = decode(json.loads(resp.read_text()))
            except (ValueError, OSError):
                answer = None
            if isinstance(answer, dict):
                return ChildResult(answer, "", tail)
        return ChildResult(None, _death(proc.returncode, limits), tail)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(err: bytes | None, lines: int = 5) -> str:
    text = (err or b"")[-4000:].decode("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-lines:])


def _death(code: int | None, limits: Limits) -> str:
    """One line for a child that ended without an answer."""
    if code is None:
        return "the grader lost the process"
    if code < 0:
        sig = -code
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return (
                f"used more than {limits.cpu_s} s of CPU time and was stopped (an endless loop, "
                "or a very long computation?)"
            )
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
        return f"the process crashed ({name}); look for code that corrupts memory or calls C"
    return (
        f"your code ended the process (exit code {code}) before the task finished: "
        "sys.exit, os._exit or quit() in manual/?"
    )
