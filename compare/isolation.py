"""The operating-system sandbox around student and learner code: bubblewrap (`bwrap`).

What the child of compare/sandbox.py gets under bwrap:

- the whole filesystem read-only, with the installed key (this package's own manual/ and
  torch_impl/), the submission's classmates (every other folder beside it) and, for tasks
  done by hand, torch, each hidden under an empty tmpfs;
- the submission read-only; the only writable places a private, size-limited /tmp and
  /dev/shm, gone when it ends;
- its own user, PID, network, IPC and UTS namespaces (`--unshare-all`): no network, and no
  process of the grader's to see, signal or read (/proc is its own);
- no capabilities, a new session (no terminal to inject into), and death with the grader;
- a pids cgroup bounding its processes where one can be made (RLIMIT_NPROC does not bind
  root, nor a fresh user namespace), and RLIMIT_FSIZE / RLIMIT_NOFILE set by the child.

When the whole process tree must end, ending bwrap ends the PID namespace, and every process
in it with it, a daemon that called setsid included.

Without bwrap (macOS, a locked-down container) the child still has its rlimits, its own
session and a kill of its process group, and one line says what is not isolated.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ISOLATION_MODES = ("auto", "required", "none")
GET_BWRAP = "install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap)"
NOT_ISOLATED = (
    "bubblewrap (bwrap) is not available here, so student code runs with time and memory "
    "limits only: it can read your files, see your processes and use the network; "
    f"{GET_BWRAP}, or pass --isolation none to accept this"
)
PIDS_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))  # cgroup v1, then v2


class IsolationError(RuntimeError):
    """--isolation required, and bwrap cannot run here; the message says how to get it."""


@dataclass(frozen=True)
class Sandbox:
    """The mounts of one child: what it sees, what it may write, what is hidden."""

    folder: Path  # the submission, read-only, its classmates hidden
    scratch_bytes: int  # size of the private /tmp and of /dev/shm
    hide_torch: bool  # by-hand tasks: torch is not there to import
    shared: tuple[Path, ...] = ()  # folders of the grader's, writable here (a task's save)
    hide: tuple[Path, ...] = ()  # more folders to cover: the class a staged copy came from


@functools.cache
def bwrap_works() -> bool:
    """True when bwrap exists and can make its namespaces here (some containers forbid it)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False
    try:
        done = subprocess.run(
            [exe, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def use_bwrap(mode: str) -> bool:
    """Whether this child runs under bwrap; `required` without it is an IsolationError."""
    if mode not in ISOLATION_MODES:
        raise IsolationError(f"--isolation {mode!r}: choose one of {', '.join(ISOLATION_MODES)}")
    if mode == "none":
        return False
    if bwrap_works():
        return True
    if mode == "required":
        raise IsolationError(f"--isolation required, but bwrap cannot run here: {GET_BWRAP}")
    warn_once()
    return False


@functools.cache
def warn_once() -> None:
    """The fallback's one line, once per process."""
    print(f"gradcompare: warning: {NOT_ISOLATED}", file=sys.stderr)


def package_root() -> Path:
    """The folder that holds our packages (compare/, and the key: manual/, torch_impl/)."""
    return Path(__file__).resolve().parent.parent


def _torch_folder() -> Path | None:
    spec = importlib.util.find_spec("torch")  # finds it without importing it
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent


def bwrap_command(sandbox: Sandbox, argv: list[str]) -> list[str]:
    """bwrap's arguments around `argv`. Mounts apply in order: later ones cover earlier."""
    exe = shutil.which("bwrap") or "bwrap"
    root, folder = package_root(), sandbox.folder.resolve()
    size = str(sandbox.scratch_bytes)
    cmd = [
        exe, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--uid", "65534", "--gid", "65534", "--hostname", "sandbox",
        "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
        "--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", "/dev/shm",
    ]  # fmt: skip
    # What the child needs from under an empty tmpfs is bound back right after that cover,
    # before the next: our code, Python, and every folder on the grader's sys.path (a venv's
    # site-packages, a .pth's target), wherever they live, /tmp included.
    core = {root, Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
            Path(sys.executable).resolve().parent, Path(sys.executable).parent}  # fmt: skip
    on_path = {Path(p).resolve() for p in sys.path if p and Path(p).is_dir()}
    covers = [(Path("/tmp"), core | on_path)]
    # Classmates: the folders beside this one, and the class it was staged from. Only our own
    # code and Python come back from under these covers, never a sys.path entry that might be
    # a classmate's.
    for away in dict.fromkeys((folder.parent, *(h.resolve() for h in sandbox.hide))):
        if away not in (Path("/"), Path("/tmp")):
            covers.append((away, core))
    for i, (cover, needed) in enumerate(covers):
        if i:  # /tmp is already mounted, sized, above
            cmd += ["--tmpfs", str(cover)]
        for path in sorted(needed, key=lambda p: len(p.parts)):
            if cover in path.parents and folder not in path.parents and path != folder:
                cmd += ["--ro-bind", str(path), str(path)]
    for key in ("manual", "torch_impl"):  # the installed key
        if (root / key).is_dir() and root / key != folder and root / key not in folder.parents:
            cmd += ["--tmpfs", str(root / key)]
    cmd += ["--ro-bind", str(folder), str(folder)]
    torch_dir = _torch_folder() if sandbox.hide_torch else None
    if torch_dir is not None:
        cmd += ["--tmpfs", str(torch_dir)]
    for mine in sandbox.shared:
        cmd += ["--bind", str(mine.resolve()), str(mine.resolve())]
    # The empty folders that hide things are read-only too, once the binds inside them exist.
    hidden = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--tmpfs"]
    for where in hidden:
        if where not in ("/tmp", "/dev/shm"):
            cmd += ["--remount-ro", where]
    return [*cmd, "--chdir", str(folder), "--", *argv]


@dataclass
class PidsGroup:
    """A pids cgroup for one child: at most `limit` processes, and every one killable."""

    path: Path

    @classmethod
    def make(cls, limit: int) -> PidsGroup | None:
        """A fresh group under the first writable pids hierarchy, or None where there is none."""
        for base in PIDS_ROOTS:
            if not (base / "cgroup.procs").exists():
                continue
            if base == Path("/sys/fs/cgroup") and "pids" not in _read(base / "cgroup.controllers"):
                continue
            path = base / f"gradcompare-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(limit))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            return cls(path)
        return None

    def wrap(self, argv: list[str]) -> list[str]:
        """argv, started by a shell that joins the group and then execs it.

        The process is in the group before it runs a line of bwrap, so nothing it forks can
        escape the bound, and no preexec_fn runs in the grader (unsafe beside its threads).
        """
        return ["/bin/sh", "-c", 'echo 0 > "$0" && exec "$@"', str(self.path / "cgroup.procs"),
                *argv]  # fmt: skip

    def remove(self) -> None:
        """Kill whatever is left in the group, then remove it (waiting up to a second)."""
        for _ in range(100):
            pids = [int(p) for p in _read(self.path / "cgroup.procs").split()]
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.01)  # the killed are still being reaped by their namespace


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
