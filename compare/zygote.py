"""One sandbox, many tasks: NumPy (and torch) imported once, then a child forked per task.

Starting a Python with torch costs about a second, and torch.optim's first optimizer nearly
another (it imports torch._dynamo). Every task starts from the same state, so this process,
the zygote, pays for it once: it imports the entry module, warms torch up, and then forks one
child per request. The child sets its own limits, imports the student's code
and answers on a pipe of its own, so the student's modules are only ever imported in
children, and each task starts as clean as in a process of its own.

The zygote runs inside the sandbox (compare/sandbox.py starts it under bwrap). After each
task it ends whatever that task left running: inside the sandbox's own PID namespace,
kill(-1) reaches only the sandbox's processes, so a daemon of task 3 never sees task 4.

It reads a header line ({"entry", "warm_torch", "sweep", "outer_ns"}) and then one line per
task ({"request", "wall_s", "cpu_s", "fresh"}; fresh: the first of a new submission, whose
scratch is emptied first), and it lives for as many submissions as the grader sends it. Per
task it writes one JSON header line ({"code", "timed_out", "stderr", "answer_bytes"}) and then
the answer's bytes.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import selectors
import signal
import sys
import time
import types
from typing import Any

ANSWER_BYTES = 256 << 20  # an answer larger than this is not kept: a flood, not a result
STDERR_BYTES = 1 << 16  # how much of a task's stderr is kept: its end


def warm_torch() -> None:
    """Everything a torch task's first lines would import: forward, backward, step, save."""
    import io

    import torch

    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)  # imports torch._dynamo
    torch.nn.functional.l1_loss(model(torch.ones(2, 1)), torch.zeros(2, 1)).backward()
    opt.step()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    torch.load(buffer, weights_only=True)


def main(request_path: str, results_path: str) -> None:
    """Read the job's header line, then one task per line: fork, wait, report, until EOF."""
    from compare.sandbox import decode

    requests = open(request_path, "rb")  # noqa: SIM115 - read line by line for the whole run
    job = json.loads(requests.readline())
    entry = importlib.import_module(job["entry"])
    if job.get("warm_torch"):
        warm_torch()
    # Only inside a PID namespace of its own may the zygote sweep with kill(-1).
    sweep = bool(job.get("sweep")) and os.readlink("/proc/self/ns/pid") != job.get("outer_ns")
    _dumpable(False)  # no task may read or write this process's memory, nor its fds
    out = os.open(results_path, os.O_WRONLY)
    for line in requests:
        message = decode(json.loads(line))
        if message.get("fresh") and sweep:
            _wipe()  # a new submission: nothing of the last one's scratch is left
        header, answer = run_one(
            entry, message["request"], float(message["wall_s"]), int(message["cpu_s"])
        )
        if sweep:
            with contextlib.suppress(OSError):
                os.kill(-1, signal.SIGKILL)  # everything but us and the namespace's init
        _write(out, json.dumps({**header, "answer_bytes": len(answer)}).encode() + b"\n")
        _write(out, answer)
    os.close(out)


def _dumpable(flag: bool) -> None:
    """prctl(PR_SET_DUMPABLE): a process that is not dumpable is out of ptrace's and /proc's
    reach for processes of the same user without CAP_SYS_PTRACE (which no task has)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, int(flag), 0, 0, 0)


def _wipe() -> None:
    """Empty the sandbox's private /tmp and /dev/shm, never crossing into a mount: the
    grader's folders (the staged submission, the saves) are mounted below /tmp."""
    for where in ("/tmp", "/dev/shm"):
        with contextlib.suppress(OSError):
            _empty(where, os.lstat(where).st_dev)


def _empty(folder: str, device: int) -> None:
    for entry in os.scandir(folder):
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if info.st_dev != device:
                continue  # a mount point, or what lies beyond it
            if entry.is_dir(follow_symlinks=False):
                os.chmod(entry.path, 0o700)  # a folder its task made unreadable is ours too
                _empty(entry.path, device)
                os.rmdir(entry.path)
            else:
                os.unlink(entry.path)


def run_one(
    entry: types.ModuleType, request: dict[str, Any], wall_s: float, cpu_s: int
) -> tuple[dict[str, Any], bytes]:
    """Fork a child for one request and wait for it, at most wall_s on the clock."""
    answer_r, answer_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(answer_r)
        os.close(err_r)
        _child(entry, request, answer_w, err_w, cpu_s)
    os.close(answer_w)
    os.close(err_w)
    try:
        answer, err, code, timed_out = _collect(pid, answer_r, err_r, wall_s)
    finally:
        os.close(answer_r)
        os.close(err_r)
    text = err[-4000:].decode("utf-8", "replace")
    tail = "\n".join(text.strip().splitlines()[-5:])
    return {"code": code, "timed_out": timed_out, "stderr": tail}, answer


def _child(
    entry: types.ModuleType, request: dict[str, Any], answer_w: int, err_w: int, cpu_s: int
) -> None:
    """The task's process: its own session and CPU limit, its answer on fd 3, then _exit."""
    code = 70
    try:
        os.setsid()  # killed whole, with anything it starts, when its time is up
        _dumpable(True)  # the task's own process, as any other
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))  # a fresh count after fork
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(err_w, 2)
        os.dup2(answer_w, 3)
        os.closerange(4, 1 << 16)  # the zygote's own pipes, to the grader among them
        from compare.sandbox import encode

        _write(3, json.dumps(encode(entry.answer(request))).encode())
        code = 0
    finally:
        with contextlib.suppress(BaseException):
            sys.stderr.flush()  # _exit flushes nothing: the student's last lines
        os._exit(code)


def _collect(
    pid: int, answer_fd: int, err_fd: int, wall_s: float
) -> tuple[bytes, bytes, int, bool]:
    """The child's answer and stderr until it ends or time runs out; then its group is killed.

    Returns (answer, stderr, exit code (-N for signal N), timed out).
    """
    deadline = time.monotonic() + wall_s
    chunks: dict[int, list[bytes]] = {answer_fd: [], err_fd: []}
    sizes = dict.fromkeys(chunks, 0)
    sel = selectors.DefaultSelector()
    for fd in chunks:
        sel.register(fd, selectors.EVENT_READ)
    # A pidfd is readable once the child has ended (Linux 5.3): no polling for its exit.
    ended = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else -1
    if ended >= 0:
        sel.register(ended, selectors.EVENT_READ)
    status: int | None = None
    timed_out = False
    try:
        while True:
            if status is None:
                done, raw = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = os.waitstatus_to_exitcode(raw)
                    if ended >= 0:
                        sel.unregister(ended)
            if status is not None and not sel.get_map():
                break
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            # Once the child has ended its answer is whole: what is in the pipes is read, and
            # a grandchild that holds them open holds nothing up.
            wait = 0.0 if status is not None else min(left, 0.05 if ended >= 0 else 0.002)
            events = sel.select(timeout=wait)
            if status is not None and not events:
                break
            for key, _ in events:
                fd = int(key.fd)
                if fd == ended:
                    continue  # reaped at the top of the loop
                data = os.read(fd, 1 << 16)
                if not data:
                    sel.unregister(fd)
                    continue
                chunks[fd].append(data)
                sizes[fd] += len(data)
                if fd == err_fd and sizes[fd] > STDERR_BYTES:
                    kept = b"".join(chunks[fd])[-STDERR_BYTES:]
                    chunks[fd], sizes[fd] = [kept], len(kept)
                elif fd == answer_fd and sizes[fd] >= ANSWER_BYTES:
                    chunks[fd] = []
                    sel.unregister(fd)
    finally:
        sel.close()
        if ended >= 0:
            os.close(ended)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    if status is None:  # killed above; reap it
        with contextlib.suppress(ChildProcessError):
            status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    answer = b"" if sizes[answer_fd] >= ANSWER_BYTES else b"".join(chunks[answer_fd])
    return answer, b"".join(chunks[err_fd]), -9 if status is None else status, timed_out


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


if __name__ == "__main__":  # pragma: no cover - started by compare/sandbox.py
    main(sys.argv[1], sys.argv[2])
