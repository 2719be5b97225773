"""Exercise material: stubs fail, the key passes, each planted mistake fails its task only."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

from compare.cli.show import TOPICS, render
from compare.exercises.runner import check_folder
from compare.exercises.scaffold import new_copy, strip_solutions
from compare.exercises.tasks import TASKS
from manual.exercise import chapter_exercise

from .cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
ALL = [t.number for t in TASKS]


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    dest = tmp_path_factory.mktemp("key")
    new_copy(dest, with_solutions=True, force=True)
    return dest


def planted(key, tmp_path, file, old, new):
    """A copy of the key with one mistake planted by text substitution."""
    dest = tmp_path / "student"
    new_copy(dest, with_solutions=True)
    path = dest / "manual" / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1))
    return dest


def failing(results):
    return sorted(r.number for r in results if not r.passed)


def test_every_task_has_a_region_and_every_region_a_task():
    found = set()
    for path in (ROOT / "manual").glob("*.py"):
        found |= {int(n) for n in re.findall(r"# BEGIN SOLUTION task-(\d+)", path.read_text())}
    assert found == set(ALL) and len(ALL) >= 11


def test_stripped_sources_still_compile_and_raise():
    for path in (ROOT / "manual").glob("*.py"):
        stripped = strip_solutions(path.read_text())
        compile(stripped, str(path), "exec")
        assert "BEGIN SOLUTION" not in stripped
    assert 'raise NotImplementedError("Task 3: MSE gradient' in strip_solutions(
        (ROOT / "manual" / "losses.py").read_text()
    )


def test_a_fresh_copy_fails_every_task(tmp_path):
    new_copy(tmp_path / "hw")
    results = check_folder(tmp_path / "hw", ALL)
    assert failing(results) == ALL
    assert all("not implemented" in r.message for r in results)
    # The formula stays in the docstring above each stub.
    text = (tmp_path / "hw" / "manual" / "losses.py").read_text()
    assert "dL/dŷ_i = 2 r_i / N." in text and "2.0 / resid.size" not in text


def test_the_key_passes_every_task(key):
    results = check_folder(key, ALL)
    assert failing(results) == [], [r.line() for r in results if not r.passed]


MISTAKES = [
    (1, "data.py", "n_train = int(train_split * len(X))", "n_train = int(train_split * len(X)) - 1", "first int"),
    (2, "model.py", "pred: np.ndarray = X @ w[:, None] + b", "pred: np.ndarray = X @ w[:, None] - b", ""),
    (3, "losses.py", "dresid: np.ndarray = (2.0 / resid.size) * resid", "dresid: np.ndarray = (1.0 / resid.size) * resid", "factor of 2"),
    (4, "losses.py", "dresid: np.ndarray = np.sign(resid) / resid.size", "dresid: np.ndarray = np.where(resid >= 0, 1.0, -1.0) / resid.size", "sign(0)"),
    (5, "losses.py", "np.clip(resid, -delta, delta)", "np.clip(resid, -2 * delta, 2 * delta)", "δ·sign(r)"),
    (6, "gradients.py", "db = dpred.sum(axis=0)", "db = dpred.mean(axis=0)", ""),
    (7, "optim.py", "return theta - lr * direction", "return theta + lr * direction", "sign"),
    (8, "optim.py", "opt.momentum * buf + (1 - opt.dampening) * g", "opt.momentum * buf + g", "dampening"),
    (9, "train.py", "train_loss = float(np.mean(batch_losses))", "train_loss = float(np.sum(batch_losses))", "mean of the batch"),
    (10, "checkpoint.py", '"bias": np.ascontiguousarray(bias)}', '"bias": np.ascontiguousarray(bias) * 0}', ""),
    (11, "exercise.py", "step=EXERCISE.step", "step=0.02", "0.01"),
    (12, "optim.py", "denom = np.sqrt(v) / bias_correction2_sqrt + opt.eps", "denom = np.sqrt(v + opt.eps) / bias_correction2_sqrt", "outside the root"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("task", "file", "old", "new", "hint"), MISTAKES, ids=[f"task{m[0]}" for m in MISTAKES]
)
def test_a_planted_mistake_fails_that_task_only(key, tmp_path, task, file, old, new, hint):
    results = check_folder(planted(key, tmp_path, file, old, new), ALL)
    assert failing(results) == [task], [r.line() for r in results if not r.passed]
    line = results[task - 1].line()
    assert line.startswith("FAIL") and hint in line


def test_weight_decay_after_momentum_is_named(key, tmp_path):
    """The other classic task-8 slip: λθ added after the momentum buffer, not before."""
    old = """    if opt.weight_decay != 0:
        g = g + opt.weight_decay * theta
    if opt.momentum != 0:
        buf = g.copy() if buf is None else opt.momentum * buf + (1 - opt.dampening) * g
        g = g + opt.momentum * buf if opt.nesterov else buf
"""
    new = """    if opt.momentum != 0:
        buf = g.copy() if buf is None else opt.momentum * buf + (1 - opt.dampening) * g
        g = g + opt.momentum * buf if opt.nesterov else buf
    if opt.weight_decay != 0:
        g = g + opt.weight_decay * theta
"""
    results = check_folder(planted(key, tmp_path, "optim.py", old, new), ALL)
    assert failing(results) == [8]
    assert "before it enters the momentum buffer" in results[7].line()


def test_syntax_error_infinite_loop_and_wrong_shape_are_fail_lines(key, tmp_path):
    dest = tmp_path / "broken"
    new_copy(dest, with_solutions=True)
    optim = dest / "manual" / "optim.py"
    optim.write_text(
        optim.read_text().replace(
            "    return theta - lr * direction", "    while True:\n        pass", 1
        )
    )
    model = dest / "manual" / "model.py"
    model.write_text(model.read_text().replace("= X @ w[:, None] + b", "= X @ w + b[0]", 1))
    results = check_folder(dest, [2, 7, 3], timeout=2)
    assert [r.passed for r in results] == [False, False, True]
    assert "shape" in results[0].message and "(7, 1)" in results[0].message
    assert "timed out" in results[1].message
    losses = dest / "manual" / "losses.py"
    losses.write_text(losses.read_text() + "\ndef broken(:\n")
    (r,) = check_folder(dest, [3], timeout=2)
    assert not r.passed and "SyntaxError" in r.message and "losses.py" in r.message


def test_cli_new_check_and_exit_codes(tmp_path, capsys):
    hw = tmp_path / "hw1"
    code, out, _ = run_cli(capsys, "exercises", "new", str(hw))
    assert code == 0 and "exercises check" in out
    code, _, err = run_cli(capsys, "exercises", "new", str(hw))
    assert code == 2 and "--force" in err
    code, _, _ = run_cli(capsys, "exercises", "new", str(hw), "--with-solutions", "--force")
    assert code == 0
    code, out, _ = run_cli(capsys, "exercises", "check", str(hw), "--task", "4")
    assert code == 0 and out.startswith("PASS  task  4")
    code, out, _ = run_cli(capsys, "exercises", "check", str(hw), "--task", "4", "--json")
    assert code == 0 and json.loads(out)[0]["passed"] is True
    (hw / "manual" / "model.py").write_text("def forward(X, w, b):\n    return X\n")
    code, out, _ = run_cli(capsys, "exercises", "check", str(hw), "--task", "2")
    assert code == 1 and out.startswith("FAIL  task  2")
    code, _, err = run_cli(capsys, "exercises", "check", str(tmp_path / "nothing"))
    assert code == 2 and "no manual/ folder" in err


def test_pytest_marker_per_task_inside_a_student_copy(key):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "task3", "-p", "no:cacheprovider"],
        cwd=key, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 11 deselected" in done.stdout


def test_the_projects_chapter_exercise_matches_torch():
    X = torch.arange(0, 1, 0.01).unsqueeze(dim=1)
    y = 0.3 * X + 0.9
    torch.manual_seed(42)
    w = torch.nn.Parameter(torch.randn(1))
    b = torch.nn.Parameter(torch.randn(1))
    w0, b0 = w.detach().numpy().copy(), b.detach().numpy().copy()
    opt = torch.optim.SGD([w, b], lr=0.01)
    losses = []
    for _ in range(300):
        loss = torch.nn.functional.l1_loss(w * X[:80] + b, y[:80])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    h = chapter_exercise(w0, b0)
    np.testing.assert_allclose(h.train_loss, losses, rtol=1e-5, atol=1e-7)
    assert h.weight[-1][0] == pytest.approx(w.item(), abs=1e-5)
    assert h.bias[-1] == pytest.approx(b.item(), abs=1e-5)


@pytest.mark.parametrize("width", [60, 100, 200])
@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_show_every_topic_at_narrow_and_wide_widths(topic, width):
    console = Console(width=width, record=True, color_system=None)
    render(topic, console)
    text = console.export_text()
    assert "by hand" in text and "autograd" in text
    assert max(len(line) for line in text.splitlines()) <= width
    stacked = text.index("autograd does the work") > text.index("def ")
    assert stacked == (width < 140)
    assert "BEGIN SOLUTION" not in text


def test_show_step_puts_backward_on_the_right():
    console = Console(width=200, record=True, color_system=None)
    render("step", console)
    rows = [line for line in console.export_text().splitlines() if "backward()" in line]
    assert rows and all(line.index("backward()") > 100 for line in rows)


def test_show_cli(capsys):
    code, out, _ = run_cli(capsys, "show", "loop")
    assert code == 0 and "def fit(" in out
    code, _, err = run_cli(capsys, "show", "nonsense")
    assert code == 2 and "invalid choice" in err
