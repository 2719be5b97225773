"""Students take turns in one sandbox (compare/sandbox_tasks.py): nothing passes between them.

A class is graded by a few long-lived sandboxes, one per grading thread and kind, whose zygote
forks a child per task. Each test here is an attack on what that sharing could leak: a daemon
or a scratch file left for the next student, the zygote's memory and pipes, the staged copy,
and a zygote killed or stopped mid-run. Judged from outside, in the grader's process.
"""

import csv
import os
import time
import uuid
from pathlib import Path

import pytest

from compare.exercises.batch import grade_batch
from compare.exercises.grade import grade_folder
from compare.exercises.scaffold import new_copy
from compare.isolation import bwrap_works
from compare.sandbox import Limits
from compare.sandbox_tasks import LOST, Pool

if not bwrap_works():
    if os.environ.get("CI"):
        raise RuntimeError("CI must test the isolated path: install bubblewrap (.ci/run does)")
    pytest.skip("bubblewrap cannot run here: apt-get install bubblewrap", allow_module_level=True)

TIGHT = Limits(wall_s=60, cpu_s=20, processes=64)
MSE = "    resid = pred - target\n    # d(r²)/dr"


def key_with(dest: Path, file: str, old: str, new: str) -> Path:
    new_copy(dest, with_solutions=True)
    path = dest / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1))
    return dest


def test_the_next_student_in_the_same_sandbox_finds_nothing_left(tmp_path):
    """mallory (graded first, same thread, same sandboxes) leaves a daemon, scratch files and
    writes at the staged copy; victim's code fails every task if it finds any of it."""
    token = f"600.{uuid.uuid4().int % 10**9:09d}"  # a number: sleep takes it, and /proc shows it
    subs = tmp_path / "subs"
    key_with(subs / "a-mallory", "manual/__init__.py", '"""\n', f'''"""
import os, pathlib
for where in ("/tmp", "/dev/shm"):
    try:
        pathlib.Path(where, "left-{token}").write_text("{token}")
    except OSError:
        pass
for where in ("/tmp", "/dev/shm", str(pathlib.Path(__file__).resolve().parents[2] / "saves")):
    try:  # a folder made unreadable, a secret for the next student in it
        hidden = pathlib.Path(where, "locked-{token}", "deeper")
        hidden.mkdir(parents=True)
        (hidden / "answers").write_text("{token}")
        hidden.chmod(0)
        hidden.parent.chmod(0)
    except OSError:
        pass
here = pathlib.Path(__file__).resolve().parents[1]
for target in (here / "manual" / "losses.py", here.parent / "saves" / "x-{token}"):
    try:
        target.write_text("raise SystemExit(3)")
    except OSError:
        pass
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "{token}"])
    os._exit(0)
''')  # fmt: skip
    key_with(subs / "b-victim", "manual/__init__.py", '"""\n', f'''"""
import os, pathlib
saves = pathlib.Path(__file__).resolve().parents[2] / "saves"  # the grader's own files too
left = [p for w in ("/tmp", "/dev/shm", str(saves)) for p in pathlib.Path(w).glob("locked-*")]
for path in [*saves.glob("x-*"), *left]:
    raise SystemExit(f"left behind: {{path}}")
for where in ("/tmp", "/dev/shm"):
    device = os.lstat(where).st_dev
    for path in pathlib.Path(where).rglob("*"):
        try:
            info = path.lstat()
        except OSError:
            continue
        if info.st_dev == device and not path.is_dir():
            raise SystemExit(f"left behind: {{path}}")
for proc in pathlib.Path("/proc").iterdir():
    try:
        if b"{token}" in (proc / "cmdline").read_bytes():
            raise SystemExit(f"still running: {{proc.name}}")
    except OSError:
        continue
''')  # fmt: skip
    out = tmp_path / "grades.csv"
    grade_batch(subs, out, seed=4, limits=TIGHT, jobs=1)  # one thread: the same sandboxes
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert rows["b-victim"]["total"] == "180", rows["b-victim"]
    assert rows["a-mallory"]["total"] == "180"  # its attacks failed, its work still counts
    assert token not in (subs / "b-victim" / "manual" / "losses.py").read_text()


def test_a_task_cannot_read_the_zygotes_memory_or_pipes(tmp_path):
    """The zygote is not dumpable: /proc/<zygote>/mem and /proc/<zygote>/fd are closed to the
    tasks it forks, though they run as the same user."""
    probe = """    import os
    seen = []
    for what in ("mem", "fd", "environ"):
        where = f"/proc/{os.getppid()}/{what}"
        try:
            if what == "fd":  # the zygote's pipe to the grader among them
                opened = 0
                for fd in os.listdir(where):
                    try:
                        os.close(os.open(f"{where}/{fd}", os.O_WRONLY))
                        opened += 1
                    except OSError:
                        pass
                if not opened:
                    raise PermissionError
            else:
                open(where, "rb").read(1)
            seen.append(f"{what}=open")
        except OSError:
            seen.append(f"{what}=denied")
    raise RuntimeError(" ".join(seen))
"""
    dest = key_with(tmp_path / "hw", "manual/losses.py", MSE, probe + MSE)
    (task,) = grade_folder(dest, [3], seed=1, limits=TIGHT).tasks
    assert "mem=denied fd=denied environ=denied" in task.message, task.message


def test_a_zygote_stopped_or_killed_by_a_task_costs_that_task_only(tmp_path):
    """Task 3 stops its parent, task 4 kills it: each loses its own result, on the grader's
    clock; the tasks after them run in fresh sandboxes and pass."""
    dest = key_with(
        tmp_path / "hw",
        "manual/losses.py",
        MSE,
        "    import os, signal\n    os.kill(os.getppid(), signal.SIGSTOP)\n" + MSE,
    )
    l1 = dest / "manual" / "losses.py"
    text = l1.read_text()
    start = text.index("def l1_grad(")
    body = text.index('"""', text.index('"""', start) + 3) + 3
    l1.write_text(
        text[:body]
        + "\n    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)"
        + text[body:]
    )
    started = time.monotonic()
    with Pool(Limits(wall_s=5, cpu_s=20), hide=(tmp_path,), slack_s=2) as pool:
        book = grade_folder(dest, [2, 3, 4, 5, 13], seed=1, pool=pool, jobs=1)
    by = {t.number: t for t in book.tasks}
    assert by[3].message.startswith(LOST) and by[4].message.startswith(LOST)
    assert by[2].passed and by[5].passed and by[13].passed, book.lines()
    assert time.monotonic() - started < 120  # the stopped one was seen on the clock
