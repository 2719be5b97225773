"""The sandbox holds: each attack a dishonest student tried is a test, judged from outside.

Every attack runs as a student's (or learner's) code under bubblewrap. What it achieved is
checked here, in the grader's process: the files, processes, sockets and rows it aimed at.
Without bwrap these tests cannot show isolation; they fail under CI (which installs it) and
skip elsewhere, saying why.
"""

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest

import compare.isolation as isolation
from compare.exercises.batch import grade_batch
from compare.exercises.grade import grade_folder
from compare.exercises.results import one_line
from compare.exercises.scaffold import new_copy
from compare.isolation import IsolationError, bwrap_works, package_root, use_bwrap
from compare.sandbox import Limits, run_child

from ..cli_helpers import run_cli

if not bwrap_works():
    if os.environ.get("CI"):
        raise RuntimeError("CI must test the isolated path: install bubblewrap (.ci/run does)")
    pytest.skip("bubblewrap cannot run here: apt-get install bubblewrap", allow_module_level=True)

TIGHT = Limits(wall_s=60, cpu_s=20, processes=64)
KEY = package_root()


def attack(tmp_path: Path, code: str, limits: Limits = TIGHT) -> str:
    """Run `code` as a learner's file under the sandbox; return what it printed on stderr."""
    folder = tmp_path / "learner"
    folder.mkdir(exist_ok=True)
    (folder / "attack.py").write_text(code + "\nraise SystemExit(0)\n")
    request = {"file": str(folder / "attack.py"), "epochs": 1, "lr": 0.01, "loss": "l1",
               "optimizer": "sgd"}  # fmt: skip
    child = run_child(folder, request, limits, entry="compare.diagnose.learner")
    return child.stderr_tail


def test_the_filesystem_is_read_only_and_the_key_and_the_grader_are_out_of_reach(tmp_path):
    target = KEY / "compare" / "exercises" / "grade.py"
    before = target.read_bytes()
    out = attack(
        tmp_path,
        f"""
import os, sys
results = []
for path in ({str(target)!r}, "/etc/gradcompare-pwned", {str(tmp_path / "outside")!r}):
    try:
        open(path, "a").write("# pwned")
        results.append("wrote " + path)
    except OSError as e:
        results.append("refused")
key = {str(KEY / "manual" / "losses.py")!r}
results.append("key readable" if os.path.exists(key) else "key hidden")
try:
    open(f"/proc/{{os.getppid()}}/mem", "rb").read(1)
    results.append("read parent memory")
except OSError:
    results.append("no parent memory")
print(" | ".join(results), file=sys.stderr)
""",
    )
    assert "wrote" not in out and "key hidden" in out and "no parent memory" in out, out
    assert target.read_bytes() == before
    assert not (tmp_path / "outside").exists() and not Path("/etc/gradcompare-pwned").exists()


def test_no_network_not_even_loopback(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    out = attack(
        tmp_path,
        f"""
import socket, sys
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5)
    print("connected", file=sys.stderr)
except OSError as e:
    print("refused", e, file=sys.stderr)
""",
    )
    with pytest.raises(BlockingIOError):
        server.accept()  # nothing ever arrived
    server.close()
    assert "connected" not in out


def test_floods_stop_at_the_limits(tmp_path):
    out = attack(
        tmp_path,
        """
import os, sys, time
report = []
n = 0
try:
    for _ in range(300):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError:
    pass
report.append(f"forks {n}")
files = []
try:
    for _ in range(5000):
        files.append(open("/dev/null"))
except OSError:
    pass
report.append(f"files {len(files)}")
for f in files:
    f.close()
for where, size in (("/tmp/big", 1 << 30), ("/dev/shm/big", 768 << 20)):
    written = 0
    try:
        with open(where, "wb") as f:
            block = b"x" * (1 << 20)
            while written < size:
                f.write(block)
                written += len(block)
    except OSError:
        pass
    report.append(f"{where} {written >> 20}")
print(" | ".join(report), file=sys.stderr)
""",
        Limits(wall_s=120, cpu_s=60, processes=64, file_bytes=64 << 20),
    )
    fields = dict(item.rsplit(" ", 1) for item in out.strip().splitlines()[-1].split(" | "))
    assert int(fields["forks"]) < 64, out
    assert int(fields["files"]) < 300, out
    assert int(fields["/tmp/big"]) <= 64 and int(fields["/dev/shm/big"]) <= 64, out


def test_a_daemon_dies_with_its_sandbox(tmp_path):
    token = f"{time.time():.6f}{uuid.uuid4().int % 10**6}"
    attack(
        tmp_path,
        f"""
import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "{token}"])
    os._exit(0)
""",
    )
    alive = []
    for proc in Path("/proc").iterdir():
        try:
            if token.encode() in (proc / "cmdline").read_bytes():
                alive.append(proc.name)
        except OSError:
            continue
    assert alive == []


def test_a_grandchild_holding_the_pipe_cannot_hold_the_grader(tmp_path):
    started = time.monotonic()
    attack(
        tmp_path,
        """
import os, time
if os.fork() == 0:
    time.sleep(600)  # keeps stderr open
""",
        Limits(wall_s=20, cpu_s=20),
    )
    assert time.monotonic() - started < 60


def test_the_grader_cannot_be_killed_or_stopped_from_inside(tmp_path):
    out = attack(
        tmp_path,
        """
import os, signal, sys
for sig in (signal.SIGSTOP, signal.SIGKILL):
    try:
        os.kill(os.getppid(), sig)
    except OSError:
        pass
print("still here", file=sys.stderr)
""",
    )
    assert os.getpid() > 0  # this process, the grader's, is alive to assert it
    assert "still here" in out or out == ""


def _class(tmp_path: Path, attacks: dict[str, str]) -> Path:
    subs = tmp_path / "subs"
    for name in ("alice", "bob", *attacks):
        new_copy(subs / name, with_solutions=True)
    for name, code in attacks.items():
        init = subs / name / "manual" / "__init__.py"
        init.write_text(init.read_text() + "\n" + code)
    return subs


def test_each_class_members_row_and_feedback_are_untouched_by_the_others(tmp_path):
    token = uuid.uuid4().hex
    subs = _class(tmp_path, {
        "mallory": f"""
import os, pathlib, signal
here = pathlib.Path(__file__).resolve().parents[2]
for friend in here.iterdir():
    for f in friend.glob("manual/*.py"):
        try:
            f.write_text("raise SystemExit(7)  # {token}")
        except OSError:
            pass
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError:
    pass
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        import time
        time.sleep(2)
        for p in list(here.rglob("feedback.txt")) + list(here.parent.glob("*.csv")):
            try:
                p.write_text("PASS  task  1  180/180 {token}")
            except OSError:
                pass
        os._exit(0)
    os._exit(0)
""",
    })  # fmt: skip
    out = tmp_path / "grades.csv"
    grade_batch(subs, out, seed=3, limits=TIGHT, jobs=2)
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert rows["alice"]["total"] == rows["bob"]["total"] == "180"
    for friend in ("alice", "bob"):
        text = "".join(p.read_text() for p in (subs / friend / "manual").glob("*.py"))
        assert token not in text
    # The daemon would have woken by now, had it survived; it did not.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert token not in out.read_text()
        assert all(token not in p.read_text() for p in subs.rglob("feedback.txt"))
        time.sleep(0.5)


def test_an_honest_type_error_fails_its_task_and_the_batch_writes_every_row(tmp_path):
    subs = tmp_path / "subs"
    for name in ("ok", "typo"):
        new_copy(subs / name, with_solutions=True)
    losses = subs / "typo" / "manual" / "losses.py"
    losses.write_text(
        losses.read_text().replace("np.sign(resid) / resid.size", "np.sign(resid) / resid.size()")
    )
    out = tmp_path / "grades.csv"
    grade_batch(subs, out, seed=5, limits=TIGHT, jobs=2)
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert rows["ok"]["total"] == "180", rows["ok"]
    # The typo costs task 4, and the cases of tasks 9 and 11 that run through the student's
    # own pieces (the course's L1 calls l1_grad); nothing else.
    assert rows["typo"]["task4"] == "0" and rows["typo"]["task11"] == "6.67", rows["typo"]
    assert rows["typo"]["task9"] == "8.57", rows["typo"]
    assert float(rows["typo"]["total"]) == 165.24, (subs / "typo" / "feedback.txt").read_text()
    feedback = (subs / "typo" / "feedback.txt").read_text()
    assert "TypeError" in feedback and "'int' object is not callable" in feedback


def test_a_forged_feedback_line_stays_one_line():
    forged = "boom\nPASS  task  1  everything  10/10\n180/180 points\x1b[2K"
    line = one_line(forged)
    assert "\n" not in line and "\x1b" not in line and line.startswith("boom PASS")


def test_forged_self_reports_score_nothing(tmp_path):
    """A blank copy that rewrites the probe's reporting, to claim every flag it can."""
    new_copy(tmp_path / "forger")
    init = tmp_path / "forger" / "torch_impl" / "__init__.py"
    init.write_text(
        init.read_text()
        + """
import compare.exercises.probe as probe
def forged(folder, req):
    return {"cases": [{"params": [0.0, 0.0], "stepped": [0.0, 0.0], "loss": "L1Loss",
                       "reduction": "mean", "optimizer": "SGD", "lr": lr,
                       "holds_model_params": True} for lr in req["lrs"]]}
probe.PROBES[13] = forged
probe.PROBES[15] = lambda folder, req: {"cases": [{"pred": [0.0], "tensor": True, "is_inference": True,
    "training_after": False, "seen": [{"training": False, "inference": True}]} for _ in req["cases"]]}
probe.PROBES[16] = lambda folder, req: {"loaded": [0.0, 0.0], "evil": "UnpicklingError", "ran_code": False}
"""
    )
    book = grade_folder(tmp_path / "forger", [13, 15, 16], seed=1, limits=TIGHT)
    assert book.total == 0, book.lines()


def test_isolation_required_without_bwrap_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(isolation, "bwrap_works", lambda: False)
    with pytest.raises(IsolationError, match="apt-get install bubblewrap"):
        use_bwrap("required")
    code, _out, err = run_cli(capsys, "exercises", "check", "nowhere", "--isolation", "required")
    assert code == 2 and err.count("\n") == 1 and "bubblewrap" in err


def test_without_bwrap_grading_goes_on_after_one_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(isolation, "bwrap_works", lambda: False)
    isolation.warn_once.cache_clear()
    new_copy(tmp_path / "key", with_solutions=True)
    for _ in range(2):
        book = grade_folder(tmp_path / "key", [1, 3], seed=2, limits=TIGHT)
        assert book.passed
    err = capsys.readouterr().err
    assert err.count("bubblewrap (bwrap) is not available") == 1 and err.count("\n") == 1
    isolation.warn_once.cache_clear()
    grade_folder(tmp_path / "key", [3], seed=2, limits=Limits(isolation="none"))
    assert capsys.readouterr().err == ""


def test_an_interrupted_batch_resumes_where_it_stopped(tmp_path, capsys):
    subs = tmp_path / "subs"
    new_copy(subs / "a", with_solutions=True)
    out = tmp_path / "grades.csv"
    grade_batch(subs, out, seed=4, limits=TIGHT, jobs=1)
    rows = list(csv.reader(out.open()))
    assert [r[0] for r in rows[1:]] == ["a"]  # written as soon as a finished
    rows = [rows[0], [*rows[1][:-3], "7", rows[1][-2], "kept from before"]]  # a's row, marked
    with out.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    new_copy(subs / "b", with_solutions=True)  # the one the interrupted batch never reached
    results = grade_batch(subs, out, seed=4, limits=TIGHT, jobs=2, resume=True)
    assert [r.student for r in results] == ["b"]  # a was not graded again
    final = {r["student"]: r for r in csv.DictReader(out.open())}
    assert final["a"]["note"] == "kept from before" and final["b"]["total"] == "180"


def test_gradescope_results_json(tmp_path, capsys):
    new_copy(tmp_path / "key", with_solutions=True)
    results = tmp_path / "out" / "results.json"
    code, _, _ = run_cli(capsys, "exercises", "check", str(tmp_path / "key"), "--task", "3",
                         "--gradescope", str(results))  # fmt: skip
    data = json.loads(results.read_text())
    assert code == 0 and data["score"] == 10
    (test,) = data["tests"]
    assert set(test) >= {"name", "number", "score", "max_score", "output", "visibility"}
    assert test["score"] == test["max_score"] == 10 and test["number"] == "3"


def test_the_autograder_zip_grades_a_simulated_autograder_tree(tmp_path, capsys):
    zip_path = tmp_path / "autograder.zip"
    code, _out, _ = run_cli(capsys, "exercises", "autograder", str(zip_path))
    assert code == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        z.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & 0o111, script  # executable in the zip
        (root / "source" / script).chmod(0o755)
    assert "bubblewrap" in (root / "source" / "setup.sh").read_text()
    assert "torch==2.13.0" in (root / "source" / "setup.sh").read_text()
    key = tmp_path / "key"
    new_copy(key, with_solutions=True)
    shutil.copytree(key, root / "submission" / "hw1")  # uploaded as one folder
    loss = root / "submission" / "hw1" / "manual" / "losses.py"
    loss.write_text(loss.read_text().replace("2.0 / resid.size", "1.0 / resid.size"))
    env = {
        **os.environ,
        "GRADCOMPARE_AUTOGRADER_ROOT": str(root),
        "GRADCOMPARE_PYTHON": sys.executable,
    }
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    data = json.loads((root / "results" / "results.json").read_text())
    by_number = {t["number"]: t for t in data["tests"]}
    assert len(by_number) == 18 and by_number["3"]["score"] == 0  # the planted MSE slip
    assert data["score"] == sum(t["score"] for t in data["tests"]) == 170


def test_signals_reach_no_one_outside(tmp_path):
    """kill(-1) inside the PID namespace reaches only the sandbox's own processes."""
    sleeper = subprocess.Popen(["sleep", "120"])
    try:
        attack(
            tmp_path,
            "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n",
        )
        assert sleeper.poll() is None
    finally:
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait()


def test_student_code_cannot_patch_the_grader(tmp_path):
    """The key's manual/__init__.py tries to reach the grader: its tables in the child, and the
    installed checks.py on disk. Neither may change a grade (the key's stays 180) or a file."""
    import compare.exercises.checks as checks

    installed = Path(checks.__file__)
    before = installed.read_bytes()
    dest = tmp_path / "hw"
    new_copy(dest, with_solutions=True)
    init = dest / "manual" / "__init__.py"
    init.write_text(
        init.read_text()
        + "try:\n    import compare.exercises.checks as c\n    c.CHECKS.clear()\nexcept ImportError:\n    pass\n"
        + f"try:\n    open({str(installed)!r}, 'w').write('CHECKS = {{}}')\nexcept OSError:\n    pass\n"
    )
    book = grade_folder(dest, [1, 2, 3], limits=TIGHT)
    assert book.total == 30, book.lines()
    assert installed.read_bytes() == before  # the installation is read-only to the child


def test_a_noisy_child_still_shows_its_last_lines(tmp_path):
    """Only the end of stderr is kept (a flood is cut), and the end is what the hint shows."""
    out = attack(
        tmp_path,
        """
import sys
for _ in range(5000):  # 600 kB, past what is kept
    print("noise " * 20, file=sys.stderr)
print("the last line", file=sys.stderr)
""",
    )
    assert out.strip().splitlines()[-1] == "the last line"
