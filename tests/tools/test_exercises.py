"""The exercise grader: each planted mistake fails its own task with its own hint, and only it.

Every grading here runs the real sandbox: one child per task, torch blocked there, limits
set. Limits are generous except where a test is about a limit; then a tight one is injected.
"""

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from compare.exercises.batch import grade_batch
from compare.exercises.grade import grade_folder, grade_task, load_points
from compare.exercises.results import Gradebook, GradeError
from compare.exercises.scaffold import new_copy, strip_solutions
from compare.exercises.scan import torch_imports
from compare.exercises.tasks import TASKS
from compare.sandbox import Limits
from manual.exercise import chapter_exercise

from ..cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
ALL = [t.number for t in TASKS]
TIGHT = Limits(wall_s=120, cpu_s=8)  # an endless loop dies after 8 CPU seconds, however busy;
# a torch task needs ~3 (import torch, then the first optimizer step initialises dynamo)


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    dest = tmp_path_factory.mktemp("key") / "key"
    new_copy(dest, with_solutions=True)
    return dest


def planted(tmp_path, *edits):
    """A copy of the key with mistakes planted by text substitution: (file, old, new) each."""
    dest = tmp_path / "student"
    new_copy(dest, with_solutions=True)
    for file, old, new in edits:
        path = dest / (file if file.startswith(("manual/", "torch_impl/")) else f"manual/{file}")
        text = path.read_text() if path.exists() else ""
        assert old in text, f"{old!r} not in {file}"
        path.write_text(text.replace(old, new, 1))
    return dest


def failing(book):
    return sorted(t.number for t in book.tasks if not t.passed)


def test_every_task_has_a_region_and_every_region_a_task():
    found = set()
    for path in (ROOT / "manual").rglob("*.py"):
        found |= {int(n) for n in re.findall(r"# BEGIN SOLUTION task-(\d+)", path.read_text())}
    for path in (ROOT / "torch_impl").rglob("*.py"):
        found |= {int(n) for n in re.findall(r"# BEGIN SOLUTION task-(\d+)", path.read_text())}
    assert found == set(ALL) and len(ALL) == 18


def test_stripped_sources_still_compile_and_raise():
    for path in [*(ROOT / "manual").rglob("*.py"), *(ROOT / "torch_impl").rglob("*.py")]:
        stripped = strip_solutions(path.read_text())
        compile(stripped, str(path), "exec")
        assert "BEGIN SOLUTION" not in stripped
    assert 'raise NotImplementedError("Task 3: MSE gradient' in strip_solutions(
        (ROOT / "manual" / "losses.py").read_text()
    )


def test_a_blank_copy_scores_zero_and_carries_no_solution_code(tmp_path):
    new_copy(tmp_path / "hw")
    book = grade_folder(tmp_path / "hw")
    assert failing(book) == ALL and book.total == 0 and book.maximum == 180
    assert all("not implemented yet" in t.message for t in book.tasks)
    text = "\n".join(p.read_text() for p in (tmp_path / "hw").rglob("*.py"))
    # The formulas stay in the docstrings; the code of tasks 3-6 is nowhere, fast.py included.
    assert "dL/dŷ_i = 2 r_i / N." in text
    for solution in ("2.0 / resid.size", "np.sign(resid)", "np.clip(resid", "X.T @ dpred",
                     "np.sign(r)", "2 * r", "X.T @ g", "optimizer.zero_grad()  # 3.", "torch.load(Path(path), weights_only=True)",
                     "    torch.manual_seed(42)\n    model = "):  # fmt: skip
        assert solution not in text, solution
    assert not (tmp_path / "hw" / "manual" / "fast.py").exists()
    assert not (tmp_path / "hw" / "torch_impl" / "nograd.py").exists()


def test_the_key_scores_full_marks_and_the_seed_replays(key):
    book = grade_folder(key, seed=123)
    assert failing(book) == [], [t.line() for t in book.tasks if not t.passed]
    assert book.total == book.maximum == 180
    again = grade_folder(key, [8], seed=123)
    assert again.tasks[0].maxdiff == book.tasks[7].maxdiff  # the same drawn inputs


# The one case of a wiring task that runs through the student's own pieces, by task.
OWN_PIECES = {
    9: "the course's case, through your own forward, loss, gradients and step",
    11: "the same, through your own make_line and fit",
}

# (task, file, old, new, what the FAIL line must say)
MISTAKES = {
    "data: a split off by one": (1, "data.py", "n_train = int(train_split * len(X))", "n_train = int(train_split * len(X)) - 1", "first int(0.8·N)"),
    "data: noise ignored": (1, "data.py", "if noise > 0:", "if False:", "noise · N(0, 1)"),
    "data: seed ignored": (1, "data.py", "rng = np.random.default_rng(seed)", "rng = np.random.default_rng(0)", "default_rng(seed)"),
    "data: extra features on [0, 1) whatever the range": (1, "data.py", "rng.uniform(start, end, size=(x0.size, features - 1))", "rng.uniform(0, 1, size=(x0.size, features - 1))", "uniformly over [start, end)"),
    "data: true weights ignored": (1, "data.py", "w = true_weights(weight, features)", "w = np.full(features, float(weight))", "w_j = weight·(-1)^j/(j+1)"),
    "forward: minus b": (2, "model.py", "= X @ w[:, None] + b", "= X @ w[:, None] - b", "differs from torch"),
    "forward: hard-coded course answer": (2, "model.py", "= X @ w[:, None] + b", "= np.arange(0, 1, 0.02, dtype=np.float32)[:, None] * np.float32(0.3367) + np.float32(0.1288)", "shape"),
    "mse: half": (3, "losses.py", "(2.0 / resid.size) * resid", "(1.0 / resid.size) * resid", "factor of 2"),
    "mse: hard-coded": (3, "losses.py", "(2.0 / resid.size) * resid", "np.full_like(resid, 0.1)", "2r/N"),
    "mse: by torch autograd": (3, "losses.py", "    dresid: np.ndarray = (2.0 / resid.size) * resid", "    import torch\n\n    p = torch.tensor(pred, requires_grad=True)\n    torch.nn.functional.mse_loss(p, torch.tensor(target)).backward()\n    dresid = p.grad.numpy()", "may not import torch"),
    "l1: sign(0) = 1": (4, "losses.py", "np.sign(resid) / resid.size", "np.where(resid >= 0, 1.0, -1.0) / resid.size", "sign(0) must be 0"),
    "huber: δ taken as 1": (5, "losses.py", "np.clip(resid, -delta, delta)", "np.clip(resid, -1.0, 1.0)", "δ·sign(r)"),
    "l1: small residuals rounded to zero": (4, "losses.py", "np.sign(resid) / resid.size", "np.sign(np.round(resid, 3)) / resid.size", "sign(r)/N"),
    "huber: clip at 2δ": (5, "losses.py", "np.clip(resid, -delta, delta)", "np.clip(resid, -2 * delta, 2 * delta)", "δ·sign(r)"),
    "backward: db as a mean": (6, "gradients.py", "db = dpred.sum(axis=0)", "db = dpred.mean(axis=0)", "factor of 1/N"),
    "backward: dw / N": (6, "gradients.py", "dw = (X.T @ dpred)[:, 0]", "dw = (X.T @ dpred)[:, 0] / len(X)", "factor of 1/N"),
    "backward: by torch autograd": (6, "gradients.py", "    dw = (X.T @ dpred)[:, 0]\n    db = dpred.sum(axis=0)", "    import torch\n\n    Xt = torch.tensor(X)\n    w = torch.zeros(X.shape[1], dtype=Xt.dtype, requires_grad=True)\n    b = torch.zeros(1, dtype=Xt.dtype, requires_grad=True)\n    (Xt @ w[:, None] + b).backward(torch.tensor(dpred))\n    dw, db = w.grad.numpy(), b.grad.numpy()", "may not import torch"),
    "sgd_update: in place": (7, "optim/sgd.py", "    return theta - lr * direction", "    theta -= lr * direction\n    return theta", "overwrote its argument θ"),
    "mse: resid written into pred": (3, "losses.py", "    resid = pred - target\n    # d(r²)/dr = 2r", "    resid = np.subtract(pred, target, out=pred)\n    # d(r²)/dr = 2r", "overwrote its argument ŷ"),
    "sgd_update: wrong sign": (7, "optim/sgd.py", "return theta - lr * direction", "return theta + lr * direction", "sign"),
    "sgd_update: missing return": (7, "optim/sgd.py", "    return theta - lr * direction", "    theta - lr * direction", "returned None"),
    "sgd: weight decay added in place": (8, "optim/sgd.py", "        g = g + opt.weight_decay * theta\n    if opt.momentum", "        g += opt.weight_decay * theta\n    if opt.momentum", "overwrote its argument grad"),
    "sgd: dampening dropped": (8, "optim/sgd.py", "opt.momentum * buf + (1 - opt.dampening) * g", "opt.momentum * buf + g", "dampening scales"),
    "sgd: zero-initialised momentum": (8, "optim/sgd.py", "buf = g.copy() if buf is None else opt.momentum * buf + (1 - opt.dampening) * g", "buf = opt.momentum * (np.zeros_like(g) if buf is None else buf) + (1 - opt.dampening) * g", "starts as the first gradient, not zero"),
    "sgd: maximize after weight decay": (8, "optim/sgd.py", "    g = -grad if opt.maximize else grad\n    if opt.weight_decay != 0:\n        g = g + opt.weight_decay * theta\n", "    g = grad\n    if opt.weight_decay != 0:\n        g = g + opt.weight_decay * theta\n    g = -g if opt.maximize else g\n", "flip the gradient first"),
    "backward: row for column": (6, "gradients.py", "dw = (X.T @ dpred)[:, 0]", "dw = (dpred.T @ X)[:, 0]", "only its first entry"),
    "loop: full-set gradient per mini-batch": (9, "train.py", "batch_loss, dw, db = gradients(X_train[rows], y_train[rows], w, b, loss)", "batch_loss, dw, db = gradients(X_train, y_train, w, b, loss)", "whole training set"),
    "loop: sum of batch losses": (9, "train.py", "train_loss = float(np.mean(batch_losses))", "train_loss = float(np.sum(batch_losses))", "mean of its batches' losses"),
    "loop: the caller's start updated in place": (9, "train.py", "            (w, b), state = step((w, b), (dw, db), state, opt)", "            (w_new, b_new), state = step((w, b), (dw, db), state, opt)\n            w[...], b[...] = w_new, b_new", "overwrote its argument w"),
    "loop: orders ignored": (9, "train.py", "order = None if orders is None else orders[epoch]", "order = None", "orders[epoch]"),
    "loop: Adam stepped as plain SGD": (9, "train.py", "(w, b), state = step((w, b), (dw, db), state, opt)", "(w, b), state = step((w, b), (dw, db), state, opt) if not hasattr(opt, 'betas') else ((w - opt.lr * dw, b - opt.lr * db), state)", "stepped with plain SGD"),
    "loop: state passed in ignored": (9, "train.py", "state = init_state(opt, (w, b)) if state is None else state", "state = init_state(opt, (w, b))", "the `state` argument"),
    "checkpoint: an Adam state saved as SGD's": (10, "checkpoint.py", '"optimizer.state": family,', '"optimizer.state": "sgd",', "an Adam state, saved and loaded"),
    "checkpoint: bias zeroed": (10, "checkpoint.py", '"bias": np.ascontiguousarray(bias)}', '"bias": np.ascontiguousarray(bias) * 0}', "saved bias"),
    "checkpoint: step count dropped": (10, "checkpoint.py", '"optimizer.step": str(state.step)', '"optimizer.step": "0"', "the loaded state's step is 0"),
    "data: split rounded": (1, "data.py", "int(train_split * len(X))", "round(train_split * len(X))", "expected 37/13"),
    "data: unseeded noise": (1, "data.py", "noise * rng.standard_normal(y.shape)", "noise * np.random.standard_normal(y.shape)", "the same seed gave different noise"),
    "data: uniform noise": (1, "data.py", "noise * rng.standard_normal(y.shape)", "noise * rng.uniform(-1, 1, y.shape)", "residuals have mean"),
    "chapter: wrong step": (11, "exercise.py", "step=EXERCISE.step", "step=0.02", "arange(0, 1, 0.01)"),
    "chapter: MSE instead of L1": (11, "exercise.py", 'LOSSES["l1"]', 'LOSSES["mse"]', "uses L1 loss"),
    "chapter: hard-coded start": (11, "exercise.py", "        (w0, b0),", "        (np.array([0.3367], np.float32), np.array([0.1288], np.float32)),", "from the start (w0, b0)"),
    "adam: amsgrad without the max": (12, "optim/adam.py", "            v_max = v if v_max is None else np.maximum(v_max, v)", "            v_max = v", "v falls here, its max does not"),
    "adam: eps inside the root": (12, "optim/adam.py", "denom = np.sqrt(v) / bias_correction2_sqrt + opt.eps", "denom = np.sqrt(v + opt.eps) / bias_correction2_sqrt", "outside the root"),
    "adam: maximize ignored": (12, "optim/adam.py", "        g = -grad if opt.maximize else grad\n        if opt.weight_decay != 0:\n            if opt.decoupled:", "        g = grad\n        if opt.weight_decay != 0:\n            if opt.decoupled:", "maximize flips"),
    "adam: maximize after L2": (12, "optim/adam.py", "                g = g + opt.weight_decay * theta\n        # torch", "                g = g + (-1 if opt.maximize else 1) * opt.weight_decay * theta\n        # torch", "flip the gradient first"),
    "adam: a state field misnamed": (12, "optim/adam.py", "        v = beta2 * v + (1 - beta2) * g * g", "        v = beta2 * state.exp_avg_sqr[0] + (1 - beta2) * g * g", "missing"),
    "adam: by torch.optim": (12, "optim/adam.py", "        theta = theta - step_size * (m / denom)\n", "        import torch\n\n        theta = torch.tensor(theta).numpy()\n", "may not import torch"),
    "torch build: no seed": (13, "torch_impl/train.py", "    torch.manual_seed(42)\n    model = LinearRegressionModel()", "    model = LinearRegressionModel()", "torch.manual_seed(42)"),
    "torch build: sum reduction": (13, "torch_impl/train.py", "    loss_fn = nn.L1Loss()\n", "    loss_fn = nn.L1Loss(reduction='sum')\n", "mean reduction"),
    "torch build: another model's parameters": (13, "torch_impl/train.py", "optimizer = torch.optim.SGD(params=model.parameters(), lr=lr)", "optimizer = torch.optim.SGD(params=LinearRegressionModel().parameters(), lr=lr)", "model.parameters()"),
    "torch loop: no zero_grad": (14, "torch_impl/train.py", "    optimizer.zero_grad()  # 3.", "    pass  # 3.", "no_zero_grad"),
    "torch loop: zero_grad after backward": (14, "torch_impl/train.py", "    optimizer.zero_grad()  # 3. clear last step's gradients\n    loss.backward()  # 4. backpropagation: fills .grad of every parameter\n", "    loss.backward()\n    optimizer.zero_grad()\n", "zero_grad_after_backward"),
    "torch loop: the loss after the step": (14, "torch_impl/train.py", "    return loss.detach()\n", "    return loss_fn(model(X), y).detach()\n", "the loss before the step is"),
    "torch loop: a zeroed loss": (14, "torch_impl/train.py", "    return loss.detach()\n", "    return loss.detach() * 0\n", "the loss before the step is"),
    "predict: no eval()": (15, "torch_impl/train.py", "    model.eval()  # layers", "    pass  # layers", "model.eval()"),
    "predict: autograd on": (15, "torch_impl/train.py", "    with torch.inference_mode():  # no graph", "    with torch.enable_grad():  # no graph", "inference_mode()"),
    "state_dict: loads into a new model": (16, "torch_impl/checkpoint.py", "    model.load_state_dict(torch.load(path, weights_only=True))", "    type(model)().load_state_dict(torch.load(path, weights_only=True))", "load into the model you were given"),
    "state_dict: unpickles anything": (16, "torch_impl/checkpoint.py", "    model.load_state_dict(torch.load(path, weights_only=True))", "    model.load_state_dict(torch.load(path, weights_only=False))", "weights_only=True"),
    "backward: the caller's dpred zeroed after use": (6, "gradients.py", "    db = dpred.sum(axis=0)\n    return dw, db", "    db = dpred.sum(axis=0)\n    dpred[...] = 0  # used up\n    return dw, db", "overwrote its argument dpred"),
    "adam: L2 added to the caller's grad in place": (12, "optim/adam.py", "                g = g + opt.weight_decay * theta", "                g += opt.weight_decay * theta", "overwrote its argument a gradient"),
    "chapter: Adam instead of SGD": (11, "exercise.py", "SGD(lr=EXERCISE.lr)", "__import__('manual.optim', fromlist=['Adam']).Adam(lr=EXERCISE.lr)", "trained with 'Adam'"),
    "chapter: SGD with momentum": (11, "exercise.py", "SGD(lr=EXERCISE.lr)", "SGD(lr=EXERCISE.lr, momentum=0.9)", "momentum=0.9"),
    "torch build: momentum 0.9": (13, "torch_impl/train.py", "torch.optim.SGD(params=model.parameters(), lr=lr)", "torch.optim.SGD(params=model.parameters(), lr=lr, momentum=0.9)", "momentum=0.9"),
    "forward: float64 always": (2, "model.py", "pred: np.ndarray = X @ w[:, None] + b", "pred: np.ndarray = (X @ w[:, None] + b).astype(np.float64)", "its inputs were float32"),
    "sgd_update: float64 always": (7, "optim/sgd.py", "return theta - lr * direction", "return (theta - lr * direction).astype(np.float64)", "keep the inputs' dtype"),
    "rmsprop: eps inside the root": (17, "optim/rmsprop.py", "            avg = np.sqrt(v) + opt.eps", "            avg = np.sqrt(v + opt.eps)", "outside the root"),
    "rmsprop: centered without the mean's square": (17, "optim/rmsprop.py", "avg = np.sqrt(v + -1 * g_avg * g_avg) + opt.eps", "avg = np.sqrt(v) + opt.eps", "√(v - ḡ²) + ε"),
    "rmsprop: the momentum buffer forgotten": (17, "optim/rmsprop.py", "buf = buf * opt.momentum + g / avg", "buf = g / avg", "b = μ·b + g/(√v + ε)"),
    "rmsprop: maximize ignored": (17, "optim/rmsprop.py", "g = -grad if opt.maximize else grad", "g = grad", "maximize flips"),
    "rmsprop: the steps not counted": (17, "optim/rmsprop.py", "new = RMSpropState(step=state.step + 1)", "new = RMSpropState(step=state.step)", "count the steps taken"),
    "rmsprop: alpha on the new square": (17, "optim/rmsprop.py", "v = v * opt.alpha + (1 - opt.alpha) * g * g", "v = v * (1 - opt.alpha) + opt.alpha * g * g", "α·v + (1 - α)·g²"),
    "cosine: sine for cosine": (18, "schedulers.py", "(1 + math.cos(math.pi * epoch / T_max)) / 2\n    # END", "(1 + math.sin(math.pi * epoch / T_max)) / 2\n    # END", "(1 + cos(π·e/T_max))/2"),
    "cosine: down to zero, whatever eta_min": (18, "schedulers.py", "    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * epoch / T_max)) / 2", "    return base_lr * (1 + math.cos(math.pi * epoch / T_max)) / 2", "not to zero"),
    "cosine: clamped at T_max": (18, "schedulers.py", "(1 + math.cos(math.pi * epoch / T_max)) / 2\n    # END", "(1 + math.cos(math.pi * min(epoch, T_max) / T_max)) / 2\n    # END", "do not clamp e"),
    "cosine: one epoch late": (18, "schedulers.py", "(1 + math.cos(math.pi * epoch / T_max)) / 2\n    # END", "(1 + math.cos(math.pi * (epoch + 1) / T_max)) / 2\n    # END", "from e = 0"),
    "state_dict: saves the tensors only": (16, "torch_impl/checkpoint.py", "    torch.save(model.state_dict(), path)", "    torch.save(list(model.parameters()), path)", "model.state_dict()"),
}  # fmt: skip


@pytest.mark.parametrize(("task", "file", "old", "new", "needle"), MISTAKES.values(), ids=MISTAKES)
def test_a_planted_mistake_fails_its_task_only_with_its_hint(
    tmp_path, task, file, old, new, needle
):
    # Every task of the package the mistake is planted in: the other package's tasks import
    # nothing from this one (test_rules.py), so they cannot change.
    package = "torch_impl" if file.startswith("torch_impl/") else "manual"
    numbers = [t.number for t in TASKS if t.package == package]
    book = grade_folder(planted(tmp_path, (file, old, new)), numbers, seed=7)
    assert task in failing(book), [t.line() for t in book.tasks if not t.passed]
    line = next(t for t in book.tasks if t.number == task).line()
    assert line.startswith("FAIL") and needle in line, line
    # The loop and the chapter's exercise also run one case through the student's own
    # pieces: that case may fail with them, and nothing else.
    for other in (t for t in book.tasks if not t.passed and t.number != task):
        assert other.number in OWN_PIECES, other.line()
        failed = [c.name for c in other.cases if not c.passed]
        assert failed == [OWN_PIECES[other.number]], other.line()


def test_a_loop_slip_with_no_fingerprint_gets_no_named_hint(tmp_path):
    """Every step a little too long: no classic slip's run matches, so no hint names one
    (the hints once blamed sgd_step, orders or the state whatever the cause)."""
    dest = planted(tmp_path, ("train.py", "(w, b), state = step((w, b), (dw, db), state, opt)",
                              "(w, b), state = step((w, b), (1.01 * dw, 1.01 * db), state, opt)"))  # fmt: skip
    (loop,) = grade_folder(dest, [9], seed=7).tasks
    failed = [c for c in loop.cases if not c.passed]
    assert len(failed) == len(loop.cases), loop.line()
    assert all(c.hint == "" for c in failed), [(c.name, c.hint) for c in failed]


def test_two_loops_written_another_way_still_pass(tmp_path):
    """Without gradients() (forward, loss.grad, backward), and a history saved as float32."""
    dest = planted(
        tmp_path,
        ("train.py", "from manual.gradients import gradients", "from manual.gradients import backward"),
        ("train.py", "            batch_loss, dw, db = gradients(X_train[rows], y_train[rows], w, b, loss)",
         "            pred = forward(X_train[rows], w, b)\n"
         "            batch_loss = loss.value(pred, y_train[rows])\n"
         "            dw, db = backward(X_train[rows], loss.grad(pred, y_train[rows]))"),
        ("checkpoint.py", 'tensors["history.train_loss"] = np.asarray(history.train_loss, dtype=np.float64)',
         'tensors["history.train_loss"] = np.asarray(history.train_loss, dtype=np.float32)'),
    )  # fmt: skip
    book = grade_folder(dest, [9, 10])
    assert book.passed, [t.line() for t in book.tasks]


def test_a_loop_hard_wired_to_sgd_step_loses_only_the_adam_case(tmp_path):
    dest = planted(
        tmp_path,
        ("train.py", "OptimizerState, init_state\n", "OptimizerState, init_state, sgd_step\n"),
        ("train.py", "(w, b), state = step((w, b)", "(w, b), state = sgd_step((w, b)"),
    )
    (loop,) = grade_folder(dest, [9]).tasks
    assert not loop.passed and "Adam through the loop" in loop.message
    assert "calls sgd_step() whatever the optimizer" in loop.message
    assert 0 < loop.points < loop.max_points  # partial credit: the five SGD cases passed


def test_torch_through_a_helper_module_is_named(tmp_path):
    dest = planted(tmp_path)
    (dest / "manual" / "helper.py").write_text("import torch\n\nONE = torch.ones(1)\n")
    path = dest / "manual" / "losses.py"
    path.write_text(
        path.read_text().replace(
            "import numpy as np\n", "import numpy as np\n\nfrom manual import helper  # noqa\n", 1
        )
    )
    assert "losses" in torch_imports(dest) and "helper.py" in torch_imports(dest)["losses"]
    book = grade_folder(dest, [2, 3])
    assert failing(book) == [3]
    assert (
        "uses torch" in book.tasks[1].message
        and "through manual/helper.py" in book.tasks[1].message
    )


def test_a_syntax_error_fails_the_tasks_that_need_that_file_and_names_it(tmp_path):
    dest = planted(tmp_path, ("losses.py", "def mse(pred", "def mse(pred,,"))
    book = grade_folder(dest, [t.number for t in TASKS if t.package == "manual"])
    needs_losses = [3, 4, 5, 6, 9, 10, 11]  # losses.py, and the modules that import it
    assert failing(book) == needs_losses
    for n in needs_losses:
        assert "SyntaxError in manual/losses.py line" in book.tasks[n - 1].message


HOSTILE = {
    "sys.exit": ("import sys\n    sys.exit(0)", "called sys.exit"),
    "os._exit": ("import os\n    os._exit(3)", "exit code 3"),
    "an endless C call": ("sum(range(10**12))", "CPU time"),
    "a retry loop that swallows every error": ("while True:\n        try:\n            sum(range(10**9))\n        except BaseException:\n            pass", "CPU time"),
    "a segfault": ("import ctypes\n    ctypes.string_at(0)", "crashed"),
}  # fmt: skip


@pytest.mark.parametrize(("code", "needle"), HOSTILE.values(), ids=HOSTILE)
def test_hostile_code_fails_its_own_task_only(tmp_path, code, needle):
    dest = planted(
        tmp_path,
        (
            "losses.py",
            "    resid = pred - target\n    # d(r²)/dr",
            f"    {code}\n    resid = pred - target\n    # d(r²)/dr",
        ),
    )
    book = grade_folder(dest, [2, 3, 4], limits=TIGHT)
    assert failing(book) == [3], [t.line() for t in book.tasks]
    assert needle in book.tasks[1].message, book.tasks[1].message


def test_points_file_and_json(key, tmp_path, capsys):
    points = tmp_path / "points.toml"
    points.write_text("[points]\n8 = 20\n12 = 0\n")
    assert load_points(points)[8] == 20 and load_points(points)[1] == 10
    code, out, _ = run_cli(capsys, "exercises", "check", str(key), "--points", str(points),
                           "--json", "--student", "ada", "--seed", "5", "--task", "8")  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["student"] == "ada" and data["seed"] == 5
    assert data["total"] == data["maximum"] == 20
    (task,) = data["tasks"]
    assert task["passed"] and task["points"] == 20 and len(task["cases"]) == 8
    for bad, needle in (("[points]\n99 = 1\n", "not a task"), ("[points]\n1 = -1\n", ">= 0"),
                        ("points = 3\n", "[points]"), ("[points\n", "TOML")):  # fmt: skip
        points.write_text(bad)
        code, _, err = run_cli(capsys, "exercises", "check", str(key), "--points", str(points))
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_a_class_from_before_tasks_17_and_18_keeps_its_160_points(key, tmp_path):
    """Copies made before RMSprop and the cosine schedule were tasks hold both written. The
    instructor gives them 0 points: they are not run, the CSV keeps its 16 task columns, and a
    results file written before still resumes; without the points it is one line saying so."""
    subs = tmp_path / "subs"
    shutil.copytree(key, subs / "old")
    rmsprop = subs / "old" / "manual" / "optim" / "rmsprop.py"  # shows that task 17 never runs
    rmsprop.write_text(rmsprop.read_text().replace(
        "new = RMSpropState(step=state.step + 1)", 'raise RuntimeError("never run")'))  # fmt: skip
    points = tmp_path / "points.toml"
    points.write_text("[points]\n17 = 0\n18 = 0\n")
    out = tmp_path / "grades.csv"
    (book,) = grade_batch(subs, out, seed=3, points=load_points(points), jobs=1)
    assert isinstance(book, Gradebook) and {t.number for t in book.tasks} == set(range(1, 17))
    with out.open(newline="") as f:
        header, row = list(csv.reader(f))
    assert header == ["student", *(f"task{n}" for n in range(1, 17)), "total", "maximum", "note"]
    assert row[-3:-1] == ["160", "160"], row
    with pytest.raises(GradeError, match=r"no column for task 17, 18.*17 = 0 and 18 = 0"):
        grade_batch(subs, out, seed=3, resume=True)
    assert grade_batch(subs, out, seed=3, points=load_points(points), resume=True) == []


def test_partial_credit_per_case(tmp_path):
    dest = planted(tmp_path, MISTAKES["sgd: dampening dropped"][1:4])
    (task,) = grade_folder(dest, [8]).tasks
    assert not task.passed and task.points == pytest.approx(10 * 7 / 8)
    assert [c.name for c in task.cases if not c.passed] == ["dampening"]


def test_batch_grading_into_one_csv(tmp_path, key):
    subs = tmp_path / "subs"
    new_copy(subs / "correct", with_solutions=True)
    new_copy(subs / "blank")
    broken = planted(tmp_path / "b", ("model.py", "def forward(", "def forward(("))
    broken.rename(subs / "broken")
    hostile = planted(tmp_path / "h", ("losses.py", "    resid = pred - target\n    # d(r²)/dr", "    import sys\n    sys.exit(1)\n    resid = pred - target\n    # d(r²)/dr"),
                      ("optim/sgd.py", "    return theta - lr * direction", "    sum(range(10**12))"))  # fmt: skip
    (hostile / "manual" / "__init__.py").write_text(
        "import compare.exercises.probe as p\np.PROBES.clear()\n"
    )
    hostile.rename(subs / "hostile")
    hard = planted(tmp_path / "c", MISTAKES["forward: hard-coded course answer"][1:4])
    hard.rename(subs / "hardcoded")
    (subs / "empty").mkdir()
    out = tmp_path / "grades.csv"
    results = grade_batch(subs, out, seed=11, limits=TIGHT, jobs=2)
    assert len(results) == 6
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"correct", "blank", "broken", "hostile", "hardcoded", "empty"}
    assert rows["correct"]["total"] == "180" and rows["blank"]["total"] == "0"
    assert rows["broken"]["task2"] == "0" and rows["broken"]["task1"] == "10"
    # Its exit and its endless loop cost it tasks 3 and 7, and the one case of tasks 9 and 11
    # run through its own pieces (the loop, stopped at its CPU limit, apart from the rest of
    # the task); its patch of the grader did nothing.
    assert rows["hostile"]["task3"] == rows["hostile"]["task7"] == "0"
    assert rows["hostile"]["task9"] == "8.57" and rows["hostile"]["task11"] == "6.67"
    assert rows["hostile"]["total"] == "155.24"
    assert rows["hardcoded"]["task2"] != "10" and rows["hardcoded"]["task3"] == "10"
    assert rows["empty"]["total"] == "0" and "no manual/ folder" in rows["empty"]["note"]
    assert all(rows[s]["maximum"] == "180" for s in rows)
    feedback = (subs / "broken" / "feedback.txt").read_text()
    assert "SyntaxError in manual/model.py line" in feedback and "seed 11" in feedback


def test_cli_new_force_moves_the_old_copy_aside(tmp_path, capsys):
    hw = tmp_path / "hw1"
    code, out, _ = run_cli(capsys, "exercises", "new", str(hw))
    assert code == 0 and "exercises check" in out
    (hw / "manual" / "model.py").write_text("# my solved work\n")
    code, _, err = run_cli(capsys, "exercises", "new", str(hw))
    assert code == 2 and "--force" in err
    code, out, _ = run_cli(capsys, "exercises", "new", str(hw), "--force")
    assert code == 0 and "moved the old" in out
    (backup,) = tmp_path.glob("hw1.bak-*")
    assert (backup / "manual" / "model.py").read_text() == "# my solved work\n"
    assert "NotImplementedError" in (hw / "manual" / "model.py").read_text()


def test_cli_check_exit_codes(tmp_path, capsys, key):
    code, out, _ = run_cli(capsys, "exercises", "check", str(key), "--task", "4")
    assert code == 0 and out.startswith("PASS  task  4")
    hw = planted(tmp_path, ("model.py", "= X @ w[:, None] + b", "= X @ w[:, None] * b"))
    code, out, _ = run_cli(capsys, "exercises", "check", str(hw), "--task", "2")
    assert code == 1 and out.startswith("FAIL  task  2")
    code, _, err = run_cli(capsys, "exercises", "check", str(tmp_path / "nothing"))
    assert code == 2 and "no manual/ folder" in err
    code, out, _ = run_cli(capsys, "exercises", "grade", str(tmp_path / "none"), "--out", "g.csv")
    assert code == 2


def test_pytest_marker_per_task_inside_a_student_copy_uses_the_sandbox(key, tmp_path):
    dest = planted(tmp_path, ("losses.py", "    resid = pred - target\n    # d(r²)/dr", "    import sys\n    sys.exit(0)\n    resid = pred - target\n    # d(r²)/dr"))  # fmt: skip
    for where, task, expect in ((key, "task3", 0), (dest, "task3", 1), (dest, "task4", 0)):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-m", task, "-p", "no:cacheprovider"],
            cwd=where, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == expect, done.stdout[-2000:] + done.stderr[-2000:]
        assert "1 passed" in done.stdout if expect == 0 else "called sys.exit" in done.stdout
        assert not (where / ".benchmarks").exists()  # a student's pytest leaves no bench folder


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


def test_gradebook_renders_as_a_table(key):
    book = grade_folder(key, [1, 2], seed=3)
    assert isinstance(book, Gradebook)
    html = book._repr_html_()
    assert html.count("<tr") == 3 and "PASS" in html and "seed 3" in html
    (ax,) = book.plot().axes
    assert "20/20 points" in ax.get_title() and len(ax.patches) == 4


def test_a_syntax_error_in_torch_impl_names_its_package(tmp_path):
    dest = planted(
        tmp_path,
        ("torch_impl/model.py", "class LinearRegressionModel(", "class LinearRegressionModel(("),
    )
    book = grade_folder(dest, [13])
    assert "SyntaxError in torch_impl/model.py line" in book.tasks[0].message


def test_a_fresh_copy_says_not_implemented_once_and_keeps_real_results_in_sight(tmp_path):
    new_copy(tmp_path / "hw")
    lines = grade_folder(tmp_path / "hw").lines()
    assert lines[:-1] == [
        "FAIL  tasks 1–18  0/180: not implemented yet; hint: replace the raise "
        "NotImplementedError with your code"
    ]
    model = tmp_path / "hw" / "manual" / "model.py"
    stub = '    raise NotImplementedError("Task 2: forward pass ŷ = X·w + b")\n'
    model.write_text(model.read_text().replace(stub, "    return X @ w[:, None] + b\n"))
    lines = grade_folder(tmp_path / "hw", [1, 2, 3, 5]).lines()
    assert lines[0].startswith("PASS  task  2")
    assert lines[1].startswith("FAIL  tasks 1, 3, 5  0/")


@pytest.mark.parametrize(("task", "seed"), [(11, 51), (11, 1962025487), (9, 7), (9, 40)])
def test_the_key_passes_the_seeds_that_once_failed_it(key, task, seed):
    """Seeds 51 and 1962025487 crossed an L1 kink in float32 (scripts/key_seeds.py runs 200)."""
    result = grade_task(key, task, seed)
    assert result.passed, result.line()


def test_the_chapter_trajectory_names_the_epoch_of_a_slip(tmp_path):
    """A start moved by 1e-3 departs at epoch 0, and the one hint this check names is the start's."""
    dest = planted(
        tmp_path, ("exercise.py", "        (w0, b0),", "        (w0 + np.float32(1e-3), b0),")
    )
    result = grade_task(dest, 11, 3)
    assert not result.passed and "at epoch 0" in result.message
    assert "begin from the start (w0, b0)" in result.hint


def test_the_static_scan_holds_when_a_batch_scans_on_many_threads(tmp_path):
    """A correct copy once scored 0 in a busy batch: ast.parse raised SystemError ("AST
    constructor recursion depth mismatch") when the collector ran a finalizer that let another
    grading thread parse meanwhile. The same load here: cycles with such finalizers, and the
    scan's parser on a large source from eight threads (without its lock this fails)."""
    import gc
    import time
    from concurrent.futures import ThreadPoolExecutor

    from compare.exercises import scan

    class Cycle:
        def __init__(self):
            self.me = self  # only the collector frees it

        def __del__(self):
            time.sleep(0)  # lets another thread run, in the middle of whatever allocated

    source = "\n".join(p.read_text() for p in sorted((ROOT / "compare").rglob("*.py"))[:12])

    def parse(_):
        for _ in range(12):
            junk = [Cycle() for _ in range(50)]
            del junk  # freed by the collector during a later allocation: a parse's, say
            scan.parse(source)
        return True

    threshold = gc.get_threshold()
    gc.set_threshold(50)
    try:
        with ThreadPoolExecutor(8) as pool:
            assert all(pool.map(parse, range(16)))
    finally:
        gc.set_threshold(*threshold)
    new_copy(tmp_path / "hw", with_solutions=True)
    assert torch_imports(tmp_path / "hw") == {}
