"""Run student code in a child process with limits, and get back only what it returned.

The child runs under bubblewrap where it can (compare/isolation.py: a read-only system, the
key and the classmates hidden, its own namespaces, no network), and always with wall-clock,
CPU-time, address-space, file-size and open-file limits (resource.setrlimit), in a session of
its own that is killed whole on expiry. It gets a request of plain JSON on stdin and answers
on a pipe; nothing is ever unpickled. Whatever the student's code does there, sys.exit,
os._exit, a segfault, an endless C call, a daemon, a patched grader, it ends that child and
nothing else; every wait for it has a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compare.isolation import PidsGroup, Sandbox, bwrap_command, package_root, use_bwrap


@dataclass(frozen=True)
class Limits:
    """What one task's child may use. Generous by default; tests inject tight ones."""

    wall_s: float = 120.0  # seconds on the clock, then the whole sandbox is killed
    cpu_s: int = 60  # CPU seconds (RLIMIT_CPU): an endless C loop dies here, however busy
    memory_bytes: int = 2 << 30  # address space (RLIMIT_AS)
    file_bytes: int = 64 << 20  # largest file it may write (RLIMIT_FSIZE); /tmp and /dev/shm size
    open_files: int = 256  # file descriptors (RLIMIT_NOFILE)
    processes: int = 64  # processes and threads, where a pids cgroup can bound them
    isolation: str = "auto"  # auto: bwrap where it runs | required | none: rlimits only


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


ANSWER_BYTES = 256 << 20  # an answer larger than this is not read: a flood, not a result
STDERR_BYTES = 1 << 16  # how much of the child's stderr is kept: the end of it, for its tail


def run_child(
    folder: Path,
    request: dict[str, Any],
    limits: Limits,
    entry: str = "compare.exercises.probe",
    torch_allowed: bool = True,
    shared: Path | None = None,
) -> ChildResult:
    """Run `entry`.main on `request` in `folder` (by default the probe of a student's manual/).

    The request goes in on stdin and the answer comes back on a pipe of its own, so the child
    needs no writable folder of ours; under bwrap it has none (compare/isolation.py) but
    `shared`, a folder the grader made for a task that saves a file.
    """
    payload = json.dumps(encode({**request, "folder": str(folder.resolve())})).encode()
    started = start(folder, entry, limits, limits.cpu_s, torch_allowed, (shared,) if shared else ())
    if isinstance(started, ChildResult):
        return started
    proc, read_end, group = started
    try:
        answer_bytes, err, timed_out = _exchange(proc, payload, read_end, limits.wall_s)
    finally:
        stop(proc, read_end, group)
    last = tail(err)
    if timed_out:
        return ChildResult(None, too_long(limits), last)
    if proc.returncode == 0 and answer_bytes:
        answer = answer_of(answer_bytes)
        if answer is not None:
            return ChildResult(answer, "", last)
    return ChildResult(None, death(proc.returncode, limits), last)


def start(
    folder: Path,
    entry: str,
    limits: Limits,
    cpu_s: int,
    torch_allowed: bool,
    shared: Sequence[Path],
    hide: Sequence[Path] = (),
) -> tuple[subprocess.Popen[bytes], int, PidsGroup | None] | ChildResult:
    """Start `entry`.main(stdin, answer pipe) in the sandbox: (process, pipe, group).

    A ChildResult instead when no process could be had.
    """
    sandboxed = use_bwrap(limits.isolation)
    # -I: no PYTHONPATH, no user site, no current folder on sys.path; the probe adds the
    # student's folder itself, after our code is imported.
    # The limits come first, before any of our imports or the student's: hard limits
    # equal to the soft ones, so the student's code cannot raise them again.
    rlimits = {"CPU": cpu_s, "AS": limits.memory_bytes, "CORE": 0,
               "FSIZE": limits.file_bytes, "NOFILE": limits.open_files}  # fmt: skip
    code = (
        "import resource as r; "
        + "".join(f"r.setrlimit(r.RLIMIT_{k}, ({v}, {v})); " for k, v in rlimits.items())
        + f"import sys; sys.path.insert(0, {str(package_root())!r}); "
        f"from {entry} import main; main(sys.argv[1], sys.argv[2])"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "OPENBLAS_NUM_THREADS": "1",  # BLAS threads reserve address space by the GiB
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
    }
    read_end, write_end = os.pipe()
    argv = [sys.executable, "-I", "-c", code, "/dev/stdin", f"/dev/fd/{write_end}"]
    group = PidsGroup.make(limits.processes) if sandboxed else None
    if sandboxed:
        box = Sandbox(folder, limits.file_bytes, not torch_allowed, tuple(shared), tuple(hide))
        argv = bwrap_command(box, argv)
        if group is not None:
            argv = group.wrap(argv)
    else:
        env["HOME"] = env["TMPDIR"] = tempfile.gettempdir()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=folder,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(write_end,),
            start_new_session=True,  # its own session and group, killed whole on expiry
        )
    except BaseException as e:
        os.close(read_end)
        if group is not None:
            group.remove()
        if isinstance(e, OSError):  # no process to be had (a full process table, say)
            return ChildResult(None, f"the grader could not start the task ({e.strerror or e})", "")
        raise
    finally:
        os.close(write_end)
    return proc, read_end, group


def stop(proc: subprocess.Popen[bytes], read_end: int, group: PidsGroup | None) -> None:
    """End the child and everything it left running, and close its pipe."""
    _kill(proc)  # anything it left running in its group goes too
    if group is not None:
        group.remove()
    os.close(read_end)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def answer_of(data: bytes) -> dict[str, Any] | None:
    """The child's answer as a dict, or None where it is not one."""
    try:
        answer = decode(json.loads(data))
    except (ValueError, RecursionError):
        return None
    return answer if isinstance(answer, dict) else None


def too_long(limits: Limits) -> str:
    return (
        f"stopped after {limits.wall_s:g} s on the clock (a loop that never ends, or "
        "one waiting for something?)"
    )


def _exchange(
    proc: subprocess.Popen[bytes], payload: bytes, answer_fd: int, wall_s: float
) -> tuple[bytes, bytes, bool]:
    """Send the request, read the answer and stderr until the child ends or time runs out.

    Every wait has a deadline: a grandchild that keeps a pipe open cannot hold the grader.
    Returns (answer, stderr, timed out).
    """
    assert proc.stdin is not None and proc.stderr is not None
    deadline = time.monotonic() + wall_s
    chunks: dict[int, list[bytes]] = {answer_fd: [], proc.stderr.fileno(): []}
    sizes = dict.fromkeys(chunks, 0)
    sel = selectors.DefaultSelector()
    for fd in chunks:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    stdin_fd = proc.stdin.fileno()
    os.set_blocking(stdin_fd, False)
    sel.register(stdin_fd, selectors.EVENT_WRITE)
    sent, timed_out, open_fds = 0, False, set(chunks)
    try:
        while open_fds or sent < len(payload):
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            if not open_fds and proc.poll() is not None:
                break
            for key, _ in sel.select(timeout=min(left, 0.5)):
                fd = int(key.fd)
                if fd == stdin_fd:
                    try:
                        sent = send_some(fd, payload, sent)
                    except BrokenPipeError:
                        sent = len(payload)  # the child stopped reading: its answer will say
                    if sent >= len(payload):
                        sel.unregister(fd)
                        proc.stdin.close()
                    continue
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    sel.unregister(fd)
                    open_fds.discard(fd)
                    continue
                chunks[fd].append(data)
                sizes[fd] += len(data)
                if fd != answer_fd and sizes[fd] > STDERR_BYTES:  # keep its last lines only
                    tail = b"".join(chunks[fd])[-STDERR_BYTES:]
                    chunks[fd], sizes[fd] = [tail], len(tail)
                elif fd == answer_fd and sizes[fd] >= ANSWER_BYTES:
                    chunks[fd] = []  # a flood: no answer
                    sel.unregister(fd)
                    open_fds.discard(fd)
            if not open_fds and proc.poll() is None:
                # Both pipes closed but the child lives on: give it the rest of the deadline.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                timed_out = proc.poll() is None
                break
    finally:
        sel.close()
        with contextlib.suppress(OSError):
            proc.stdin.close()
    err = b"".join(chunks[proc.stderr.fileno()])
    proc.stderr.close()
    return b"".join(chunks[answer_fd]), err, timed_out


def send_some(fd: int, data: bytes, sent: int) -> int:
    """Write what the non-blocking pipe `fd` takes now of data[sent:]; the new count sent.
    A reader that has gone raises BrokenPipeError, for the caller to judge."""
    try:
        return sent + os.write(fd, data[sent : sent + 65536])
    except BlockingIOError:
        return sent


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def tail(err: bytes | None, lines: int = 5) -> str:
    text = (err or b"")[-4000:].decode("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-lines:])


def death(code: int | None, limits: Limits, by_bwrap: bool = True) -> str:
    """One line for a child that ended without an answer (its code as bwrap reports it)."""
    if code is None:
        return "the grader lost the process"
    if by_bwrap and code > 128 and code - 128 in signal.Signals._value2member_map_:
        code = 128 - code  # bwrap reports its child's death by signal N as exit 128 + N
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
