"""Tasks by the class-full in a few sandboxes: the grader's side of compare/zygote.py.

A Python with torch takes about a second to start, and its first optimizer nearly another, so
a process per task (16 per student) cost 8× that floor. Here each grading thread keeps one
sandbox per kind (by hand, with torch hidden; with torch), each holding a zygote that starts
Python, NumPy and torch once and forks a child per task, for every student that thread grades.

What keeps the students apart, though they take turns in one sandbox:
- a student is graded from a copy staged into the sandbox's only folder of submissions, which
  it sees read-only; the class it came from is hidden, and so is everyone else;
- after each task the zygote kills every process left in the sandbox's PID namespace, and
  before each student it empties the private /tmp and /dev/shm: nothing of one student runs,
  or lies in scratch, while the next is graded;
- the zygote is not dumpable: no task reads or writes its memory or its pipes;
- a task that kills or stops the zygote loses its own result; the grader's clock sees it, ends
  that sandbox whole, and the tasks after it, whoever's they are, run in a fresh one.

Each task keeps what a child of its own had: its limits, its wall clock (the zygote's, and the
grader's behind it), its own answer and stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

from compare.isolation import PidsGroup
from compare.sandbox import (
    ChildResult,
    Limits,
    answer_of,
    death,
    encode,
    send_some,
    start,
    stop,
    tail,
    too_long,
)

T = TypeVar("T")
STARTUP_S = 120.0  # the zygote's start, torch's import and warm-up, on a slow, busy machine
SLACK_S = 30.0  # the zygote's own bookkeeping per task, beyond the task's wall clock
LOST = (
    "the grader's sandbox stopped answering during this task: did your code stop or kill "
    "its parent process?"
)
NOT_RUN = "not run: earlier tasks' code stopped the grader's sandbox"
FRESH_SANDBOXES = 2  # how often one student's tasks may lose a zygote before the rest fail


class Zygote:
    """One zygote in its sandbox: started on first use, kept for every task after it."""

    def __init__(self, worker: Worker, torch_allowed: bool) -> None:
        self.worker, self.torch_allowed = worker, torch_allowed
        self.proc: subprocess.Popen[bytes] | None = None
        self.read_end = -1
        self.group: PidsGroup | None = None
        self.buffer = bytearray()
        self.err = bytearray()
        self.pending = b""  # the job's header line, sent ahead of the first task

    def ask(self, request: dict[str, Any], fresh: bool) -> tuple[ChildResult, bool]:
        """One task's result, and whether the zygote was lost on it (it is then closed)."""
        limits = self.worker.limits
        if self.proc is not None and self.proc.poll() is not None:
            self.close()  # ended between tasks (its thread is gone): start another, no harm
        grace = 0.0
        if self.proc is None:
            started = self._start()
            if started is not None:
                return started, False
            grace = STARTUP_S
        message = {"request": request, "wall_s": limits.wall_s, "cpu_s": limits.cpu_s,
                   "fresh": fresh}  # fmt: skip
        payload = json.dumps(encode(message)).encode() + b"\n"
        deadline = time.monotonic() + grace + limits.wall_s + self.worker.slack_s
        record = self._exchange(payload, deadline)
        if record is None:
            last = tail(bytes(self.err))  # the zygote's own stderr: tasks' go to their pipes
            said = f" ({last.splitlines()[-1][:160]})" if last else ""
            self.close()
            return ChildResult(None, LOST + said, last), True
        return _result(*record, limits), False

    def _start(self) -> ChildResult | None:
        """Start the sandbox and send the job's header; a ChildResult if it cannot start."""
        w = self.worker
        started = start(w.staging, "compare.zygote", w.limits, -1, self.torch_allowed,
                        (w.saves,), w.hide)  # fmt: skip
        if isinstance(started, ChildResult):
            return started
        self.proc, self.read_end, self.group = started
        try:
            outer_ns = os.readlink("/proc/self/ns/pid")
        except OSError:
            outer_ns = ""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        for fd in (self.read_end, self.proc.stderr.fileno(), self.proc.stdin.fileno()):
            os.set_blocking(fd, False)
        header = {"entry": w.entry, "warm_torch": self.torch_allowed, "sweep": True,
                  "outer_ns": outer_ns}  # fmt: skip
        self.pending = json.dumps(header).encode() + b"\n"
        return None

    def _exchange(self, payload: bytes, deadline: float) -> tuple[dict[str, Any], bytes] | None:
        """Send one task and read its record before the deadline; None if the zygote is lost."""
        assert self.proc is not None and self.proc.stdin is not None
        assert self.proc.stderr is not None
        out = self.pending + payload
        self.pending = b""
        stdin_fd, err_fd = self.proc.stdin.fileno(), self.proc.stderr.fileno()
        sel = selectors.DefaultSelector()
        sel.register(self.read_end, selectors.EVENT_READ)
        sel.register(err_fd, selectors.EVENT_READ)
        sel.register(stdin_fd, selectors.EVENT_WRITE)
        sent = 0
        try:
            while (record := _take(self.buffer)) is None:
                left = deadline - time.monotonic()
                if left <= 0 or self.read_end not in sel.get_map():
                    return None  # out of time, or the zygote closed its end: it is gone
                for key, _ in sel.select(timeout=min(left, 0.5)):
                    fd = int(key.fd)
                    if fd == stdin_fd:
                        try:
                            sent = send_some(fd, out, sent)
                        except BrokenPipeError:
                            return None
                        if sent >= len(out):
                            sel.unregister(fd)
                        continue
                    with contextlib.suppress(BlockingIOError):
                        data = os.read(fd, 1 << 16)
                        if not data:
                            sel.unregister(fd)
                        elif fd == err_fd:
                            self.err = (self.err + data)[-(1 << 16) :]
                        else:
                            self.buffer += data
            return record
        finally:
            sel.close()

    def close(self) -> None:
        """End the sandbox, everything in it with it."""
        if self.proc is not None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None and self.proc.stderr is not None
                self.proc.stdin.close()
                self.proc.stderr.close()
            stop(self.proc, self.read_end, self.group)
        self.proc, self.group, self.buffer, self.err = None, None, bytearray(), bytearray()


class Worker:
    """One grading thread's sandboxes, and the folders they see: a staged submission, saves."""

    def __init__(self, limits: Limits, hide: tuple[Path, ...], entry: str, slack_s: float) -> None:
        self.limits, self.hide, self.entry, self.slack_s = limits, hide, entry, slack_s
        self.root = Path(tempfile.mkdtemp(prefix="gradcompare-sandbox-"))
        # Both are mounted by the sandbox at its start, so they are emptied, never replaced.
        self.staging, self.saves = self.root / "submission", self.root / "saves"
        for folder, mode in ((self.staging, 0o755), (self.saves, 0o777)):
            folder.mkdir()
            folder.chmod(mode)
        self.zygotes = {kind: Zygote(self, kind) for kind in (False, True)}
        self.fresh: set[bool] = set()
        self.lost = 0

    def stage(self, folder: Path) -> Path:
        """Put `folder`'s copy where the sandboxes see it; the staged copy's path."""
        _empty(self.staging)
        _empty(self.saves)
        shutil.copytree(folder, self.staging, symlinks=True, dirs_exist_ok=True,
                        copy_function=_link_or_copy)  # fmt: skip
        self.fresh, self.lost = {False, True}, 0
        return self.staging

    def run(self, request: dict[str, Any], torch_allowed: bool) -> ChildResult:
        """One task of the staged submission, in the sandbox of its kind."""
        if self.lost > FRESH_SANDBOXES:
            return ChildResult(None, NOT_RUN, "")
        fresh = torch_allowed in self.fresh
        self.fresh.discard(torch_allowed)
        request = {**request, "folder": str(self.staging)}
        result, lost = self.zygotes[torch_allowed].ask(request, fresh)
        self.lost += lost
        return result

    def close(self) -> None:
        for zygote in self.zygotes.values():
            zygote.close()
        shutil.rmtree(self.root, ignore_errors=True)


class Pool:
    """The sandboxes of one grading run: a Worker per grading thread.

    bwrap dies with the thread that started it (--die-with-parent), so each thread keeps its
    own; `hide` is the class the submissions come from.
    """

    def __init__(
        self,
        limits: Limits,
        hide: Sequence[Path] = (),
        entry: str = "compare.exercises.probe",
        slack_s: float = SLACK_S,  # the grader's clock beyond a task's own; tests make it tight
    ) -> None:
        self.limits, self.hide, self.entry, self.slack_s = limits, tuple(hide), entry, slack_s
        self._workers: dict[int, Worker] = {}
        self._lock = threading.Lock()
        self._kept: dict[object, Any] = {}

    def kept(self, key: object, make: Callable[[], T], keep: Callable[[T], bool]) -> T:
        """make(), or what it gave before for `key` where keep() allowed it to be kept: a
        class graded from one seed gets the same inputs, so their references are worked out
        once (a task that saves a file gets a folder of its own each time)."""
        with self._lock:
            if key in self._kept:
                return cast(T, self._kept[key])
        made = make()
        if keep(made):
            with self._lock:
                self._kept[key] = made
        return made

    def worker(self) -> Worker:
        """This thread's Worker, made on first use."""
        with self._lock:
            me = threading.get_ident()
            if me not in self._workers:
                self._workers[me] = Worker(self.limits, self.hide, self.entry, self.slack_s)
            return self._workers[me]

    def close(self) -> None:
        with self._lock:
            for worker in self._workers.values():
                worker.close()
            self._workers.clear()

    def __enter__(self) -> Pool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _result(header: dict[str, Any], body: bytes, limits: Limits) -> ChildResult:
    """One task's record from the zygote, as run_child would have given it."""
    last = str(header.get("stderr", ""))
    if header.get("timed_out"):
        return ChildResult(None, too_long(limits), last)
    code = header.get("code")
    if code == 0 and body:
        answer = answer_of(body)
        if answer is not None:
            return ChildResult(answer, "", last)
    return ChildResult(None, death(code if isinstance(code, int) else None, limits, False), last)


def _take(buffer: bytearray) -> tuple[dict[str, Any], bytes] | None:
    """Cut one whole record (header line, then its answer's bytes) off the buffer's front."""
    end = buffer.find(b"\n")
    if end < 0:
        return None
    try:
        header = json.loads(buffer[:end])
        size = int(header.get("answer_bytes", 0))
    except (ValueError, TypeError, AttributeError):
        header, size = {"code": None}, 0
    if len(buffer) < end + 1 + size:
        return None
    body = bytes(buffer[end + 1 : end + 1 + size])
    del buffer[: end + 1 + size]
    return header, body


def _empty(folder: Path) -> None:
    """Remove what `folder` holds, folders a task made unreadable (chmod 000) included."""
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            with contextlib.suppress(OSError):
                entry.chmod(0o700)
            for below, dirs, _ in os.walk(entry):  # top-down: each folder opened before entered
                for name in dirs:
                    inside = os.path.join(below, name)
                    with contextlib.suppress(OSError):
                        if not os.path.islink(inside):
                            os.chmod(inside, 0o700)
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def _link_or_copy(src: str, dst: str) -> object:
    """A hard link where the filesystem allows one (the sandbox sees it read-only), else a copy."""
    try:
        os.link(src, dst, follow_symlinks=False)
        return dst
    except OSError:
        return shutil.copy2(src, dst)
