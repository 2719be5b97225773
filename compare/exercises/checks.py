"""Grade a student's `manual` package, task by task, against torch autograd and central differences.

This module imports NumPy, torch and safetensors only. The `manual` it grades is whatever
`import manual` finds first on sys.path: the student's copy when run from their folder. No
reference value comes from this project's own solution code.

Run as `python -m compare.exercises.checks DIR TIMEOUT [N ...]` it prints a JSON line per task.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import safetensors.numpy
import torch

from compare.exercises.tasks import BY_NUMBER

TIMEOUT_S = 20.0  # per task: an infinite loop becomes a FAIL, not a hung checker


@dataclass
class Result:
    """One task's grade."""

    number: int  # task number
    name: str  # task name
    passed: bool  # every check held
    maxdiff: float | None  # largest |student - reference| seen, when numbers were compared
    message: str  # what went wrong (empty on PASS)
    hint: str  # how to look for the mistake (empty on PASS)

    def as_json(self) -> dict[str, object]:
        """The result as JSON-ready values."""
        return asdict(self)

    def line(self) -> str:
        """`PASS task 3 MSE gradient` or `FAIL task 3 …: message (maxdiff …); hint: …`."""
        head = f"{'PASS' if self.passed else 'FAIL'}  task {self.number:>2}  {self.name}"
        if self.passed:
            return head
        diff = f" (maxdiff {self.maxdiff:.2e})" if self.maxdiff is not None else ""
        hint = f"; hint: {self.hint}" if self.hint else ""
        return f"{head}: {self.message}{diff}{hint}"


class Fail(Exception):
    """A check did not hold."""

    def __init__(self, message: str, maxdiff: float | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.maxdiff, self.hint = maxdiff, hint


def student(module: str) -> types.ModuleType:
    """The student's manual.<module>, freshly imported."""
    return importlib.import_module(f"manual.{module}")


def expect_close(
    mine: object, ref: np.ndarray, what: str, rtol: float = 1e-10, atol: float = 1e-12
) -> float:
    """Shape first, then values: cmp-style maxdiff, or a Fail naming what differs."""
    try:
        got = np.asarray(mine, dtype=np.float64)
    except (TypeError, ValueError):
        raise Fail(f"{what} is a {type(mine).__name__}, not an array") from None
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        raise Fail(f"{what} has shape {got.shape}, expected {ref.shape}", hint=shape_hint(got, ref))
    diff = float(np.max(np.abs(got - ref))) if ref.size else 0.0
    if not np.allclose(got, ref, rtol=rtol, atol=atol) or not np.all(np.isfinite(got)):
        raise Fail(f"{what} differs from the reference", diff, ratio_hint(got, ref))
    return diff


def shape_hint(got: np.ndarray, ref: np.ndarray) -> str:
    if got.size == ref.size:
        return f"right numbers, wrong shape: reshape to {ref.shape}"
    return "check which axis you reduce over, and keep (N, 1) column shapes"


def ratio_hint(got: np.ndarray, ref: np.ndarray) -> str:
    """Name the classic slips: a factor of 2, a missing 1/N, a flipped sign."""
    mask = np.abs(ref) > 1e-12
    if not mask.any():
        return ""
    ratios = got[mask] / ref[mask]
    if not np.allclose(ratios, ratios.flat[0], rtol=1e-6):
        return ""
    k = float(ratios.flat[0])
    n = ref.size
    for value, hint in (
        (0.5, "off by a factor of 2: is your MSE mean-reduced without the ½? d(r²)/dr = 2r"),
        (2.0, "off by a factor of 2: the mean of r² has derivative 2r/N, not 4r/N"),
        (-1.0, "the sign is flipped: the residual is r = ŷ - y, and you step against the gradient"),
        (float(n), "off by a factor of N: the mean reduction divides by N"),
        (1 / n, "off by a factor of 1/N: divide by N once, not twice"),
    ):
        if np.isclose(k, value, rtol=1e-6):
            return hint
    return ""


def seeded(shape: tuple[int, ...], seed: int, scale: float = 1.0) -> np.ndarray:
    """Non-zero seeded values, so a zero cannot hide a wrong gradient."""
    return (
        scale
        * np.random.default_rng(seed).uniform(0.2, 1.5, shape)
        * np.where(np.random.default_rng(seed + 1).random(shape) < 0.5, -1.0, 1.0)
    )


def torch_dpred(loss: torch.nn.Module, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """dL/dŷ by autograd."""
    p = torch.tensor(pred, requires_grad=True)
    loss(p, torch.tensor(target)).backward()
    return p.grad.numpy()


def central_difference(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """∂f/∂x_k ≈ (f(x + h·e_k) - f(x - h·e_k)) / 2h."""
    out = np.empty_like(x)
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = h
        out.flat[k] = (f(x + e) - f(x - e)) / (2 * h)
    return out


# ---------------------------------------------------------------------------------- the checks


def check_data() -> float:
    """Task 1: the course's cells, rebuilt with torch, within one float32 rounding."""
    s = student("data").make_line()
    X = torch.arange(0, 1, 0.02).unsqueeze(dim=1)
    y = 0.7 * X + 0.3
    sizes = tuple(len(a) for a in (s.X_train, s.y_train, s.X_test, s.y_test))
    if sizes != (40, 40, 10, 10):
        raise Fail(f"split sizes are {sizes}, expected (40, 40, 10, 10)",
                   hint="the first int(0.8·N) rows train, the rest test; no shuffling")  # fmt: skip
    if np.asarray(s.X_train).dtype != np.float32:
        raise Fail(f"X has dtype {np.asarray(s.X_train).dtype}, expected float32 by default")
    ulp = float(np.spacing(np.float32(1)))
    d = expect_close(np.concatenate([s.X_train, s.X_test]), X.numpy(), "X", 0, ulp)
    d = max(d, expect_close(np.concatenate([s.y_train, s.y_test]), y.numpy(), "y", 0, 2 * ulp))
    wide = student("data").make_line(features=3, dtype="float64", weight=0.5, bias=-0.2)
    if np.asarray(wide.X_train).shape != (40, 3):
        raise Fail(
            f"with features=3, X_train has shape {np.asarray(wide.X_train).shape}, expected (40, 3)"
        )
    fit = np.linalg.lstsq(
        np.column_stack([wide.X_train, np.ones(40)]), wide.y_train[:, 0], rcond=None
    )[0]
    return max(d, expect_close(fit[-1], -0.2, "the bias the data was made with", 1e-9, 1e-9))


def check_forward() -> float:
    """Task 2: X·w + b against torch, for d = 3."""
    X, w, b = seeded((7, 3), 1), seeded((3,), 2), seeded((1,), 3)
    ref = (torch.tensor(X) @ torch.tensor(w)[:, None] + torch.tensor(b)).numpy()
    return expect_close(student("model").forward(X, w, b), ref, "ŷ")


def _check_loss_grad(fn: str, loss: torch.nn.Module, pred: np.ndarray, target: np.ndarray) -> float:
    mine = getattr(student("losses"), fn)(pred, target)
    d = expect_close(mine, torch_dpred(loss, pred, target), "dL/dŷ (against autograd)")

    def value(p: np.ndarray) -> float:
        return float(loss(torch.tensor(p), torch.tensor(target)))

    smooth = np.abs(np.abs(pred - target) - 1.0) > 1e-3  # central differences fail at kinks
    smooth &= np.abs(pred - target) > 1e-3
    numeric = central_difference(value, pred)
    return max(
        d,
        expect_close(
            np.asarray(mine)[smooth],
            numeric[smooth],
            "dL/dŷ (against central differences)",
            1e-5,
            1e-8,
        ),
    )


def check_mse() -> float:
    """Task 3: d mean(r²)/dŷ."""
    return _check_loss_grad("mse_grad", torch.nn.MSELoss(), seeded((9, 1), 4), seeded((9, 1), 5))


def check_l1() -> float:
    """Task 4: d mean|r|/dŷ, with exact zeros among the residuals."""
    pred, target = seeded((10, 1), 6), seeded((10, 1), 7)
    target[[2, 7]] = pred[[2, 7]]  # r = 0 exactly: torch's subgradient is 0 there
    try:
        return _check_loss_grad("l1_grad", torch.nn.L1Loss(), pred, target)
    except Fail as f:
        mine = np.asarray(student("losses").l1_grad(pred, target))
        if mine.shape == pred.shape and np.any(mine[[2, 7]] != 0):
            f.hint = "sign(0) must be 0, as torch's subgradient of |r| at r = 0"
        raise


def check_huber() -> float:
    """Task 5: Huber (δ = 1) inside, outside and exactly on the edge of the quadratic zone."""
    pred = np.array([[0.3], [-0.6], [1.0], [-1.0], [2.5], [-3.0], [0.05], [4.0]])
    target = np.array([[0.1], [0.2], [0.0], [0.0], [0.1], [0.5], [-0.7], [-0.2]])
    try:
        return _check_loss_grad("huber_grad", torch.nn.HuberLoss(), pred, target)
    except Fail as f:
        f.hint = (
            f.hint or "inside |r| < δ the slope is r; outside it is δ·sign(r); then divide by N"
        )
        raise


def check_backward() -> float:
    """Task 6: dL/dw = Xᵀ·dpred, dL/db = Σ dpred, against autograd of ŷ = X·w + b."""
    X, dpred = seeded((8, 3), 8), seeded((8, 1), 9)
    w = torch.tensor(seeded((3,), 10), requires_grad=True)
    b = torch.tensor(seeded((1,), 11), requires_grad=True)
    (torch.tensor(X) @ w[:, None] + b).backward(torch.tensor(dpred))
    out = student("gradients").backward(X, dpred)
    if not isinstance(out, tuple) or len(out) != 2:
        raise Fail("backward must return (dw, db)")
    return max(
        expect_close(out[0], w.grad.numpy(), "dw"), expect_close(out[1], b.grad.numpy(), "db")
    )


def _torch_sgd_run(options: dict, steps: int) -> tuple[list, list, list, list]:
    """Directions and buffers torch.optim.SGD takes on seeded gradients (lr = 1: Δθ = -d)."""
    theta = torch.nn.Parameter(torch.tensor(seeded((3,), 12)))
    opt = torch.optim.SGD([theta], lr=1.0, **options)
    thetas, grads, directions, buffers = [], [], [], []
    for k in range(steps):
        grad = seeded((3,), 20 + k)
        thetas.append(theta.detach().numpy().copy())
        theta.grad = torch.tensor(grad)
        opt.step()
        grads.append(grad)
        directions.append(thetas[-1] - theta.detach().numpy())
        buf = opt.state[theta].get("momentum_buffer")
        buffers.append(None if buf is None else buf.numpy().copy())
    return thetas, grads, directions, buffers


SGD_CASES = {
    "plain": {},
    "weight decay": {"weight_decay": 0.1},
    "maximize": {"maximize": True},
    "momentum": {"momentum": 0.9},
    "dampening": {"momentum": 0.9, "dampening": 0.4},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "momentum + weight decay": {"momentum": 0.9, "weight_decay": 0.1},
}
SGD_HINTS = {
    "weight decay": "weight decay joins the gradient first: g = ∇θ + λ·θ",
    "maximize": "maximize flips the gradient's sign before anything else",
    "momentum": "the first buffer is the gradient itself; later v = μ·v + (1 - τ)·g",
    "dampening": "dampening scales the new gradient in the buffer: v = μ·v + (1 - τ)·g",
    "nesterov": "Nesterov steps along g + μ·v, not v",
    "momentum + weight decay": "add λ·θ to the gradient before it enters the momentum buffer",
}


def check_sgd_update() -> float:
    """Task 7: θ - η·d, against the step torch.optim.SGD takes."""
    theta, d = seeded((4,), 30), seeded((4,), 31)
    p = torch.nn.Parameter(torch.tensor(theta))
    p.grad = torch.tensor(d)
    torch.optim.SGD([p], lr=0.05).step()
    try:
        return expect_close(
            student("optim").sgd_update(theta, d, 0.05), p.detach().numpy(), "θ_new"
        )
    except Fail as f:
        f.hint = f.hint or "θ_new = θ - η·d: mind the sign, and scale by the learning rate"
        raise


def check_sgd_direction() -> float:
    """Task 8: the direction and velocity of every SGD option, against torch.optim.SGD."""
    optim = student("optim")
    worst = 0.0
    for case, options in SGD_CASES.items():
        thetas, grads, directions, buffers = _torch_sgd_run(options, steps=4)
        opt = optim.SGD(lr=1.0, **options)
        buf = None
        for k in range(4):
            try:
                d, buf = optim.sgd_direction(thetas[k], grads[k], buf, opt)
                worst = max(worst, expect_close(d, directions[k], f"direction ({case}, step {k})"))
                if buffers[k] is not None:
                    worst = max(worst, expect_close(buf, buffers[k], f"buffer ({case}, step {k})"))
            except Fail as f:
                f.hint = f.hint if f.hint and "shape" in str(f) else SGD_HINTS.get(case, f.hint)
                raise
    return worst


def _oracle_gradients(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, loss: object
) -> tuple:
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    value = torch.nn.functional.l1_loss(torch.tensor(X) @ wt[:, None] + bt, torch.tensor(y))
    value.backward()
    return value.item(), wt.grad.numpy(), bt.grad.numpy()


def _torch_loop(
    X: np.ndarray,
    y: np.ndarray,
    Xt: np.ndarray,
    yt: np.ndarray,
    w0: np.ndarray,
    b0: np.ndarray,
    epochs: int,
    batch: int | None,
    lr: float,
) -> dict:
    """The course's loop in plain torch: per-epoch mean batch loss, test loss, parameters."""
    w = torch.nn.Parameter(torch.tensor(w0.copy()))
    b = torch.nn.Parameter(torch.tensor(b0.copy()))
    opt = torch.optim.SGD([w, b], lr=lr)
    Xa, ya = torch.tensor(X), torch.tensor(y)
    out: dict[str, list] = {"train_loss": [], "test_loss": [], "weight": [], "bias": []}
    size = batch or len(X)
    for _ in range(epochs):
        losses = []
        for i in range(0, len(X), size):
            loss = torch.nn.functional.l1_loss(Xa[i : i + size] @ w[:, None] + b, ya[i : i + size])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with torch.no_grad():
            test = torch.nn.functional.l1_loss(torch.tensor(Xt) @ w[:, None] + b, torch.tensor(yt))
        out["train_loss"].append(float(np.mean(losses)))
        out["test_loss"].append(test.item())
        out["weight"].append(w.detach().numpy().copy())
        out["bias"].append(b.item())
    return out


class _OracleLoss:
    """Loss-shaped: torch's L1 value; grad is never called, since gradients() is patched."""

    def value(self, pred: np.ndarray, target: np.ndarray) -> float:
        return float(torch.nn.functional.l1_loss(torch.tensor(pred), torch.tensor(target)))

    def grad(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        raise AssertionError("the loop should call gradients(), not loss.grad()")


@contextmanager
def patched(module: types.ModuleType, **names: object) -> Iterator[None]:
    """Swap names in a student module for independent oracles while one task is graded."""
    old = {k: getattr(module, k) for k in names if hasattr(module, k)}
    for k, v in names.items():
        setattr(module, k, v)
    try:
        yield
    finally:
        for k in names:
            if k in old:
                setattr(module, k, old[k])


def check_loop() -> float:
    """Task 9: fit's loop, full batch and mini-batch; other tasks' pieces are oracles here."""
    train = student("train")
    optim = student("optim")
    rng = np.random.default_rng(40)
    X, Xt = rng.uniform(0, 1, (20, 2)), rng.uniform(0, 1, (6, 2))
    y, yt = X @ [0.7, -0.2] + 0.3, Xt @ [0.7, -0.2] + 0.3
    y, yt = y[:, None], yt[:, None]
    w0, b0 = np.array([0.33, 0.12]), np.array([0.1])
    lr = 0.05

    def oracle_step(params: tuple, grads: tuple, state: object, opt: object) -> tuple:
        return tuple(p - lr * g for p, g in zip(params, grads, strict=True)), state

    def oracle_forward(X: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (torch.tensor(X) @ torch.tensor(w)[:, None] + torch.tensor(b)).numpy()

    worst = 0.0
    oracles = {"gradients": _oracle_gradients, "step": oracle_step, "forward": oracle_forward,
               "init_state": lambda opt, params: None}  # fmt: skip
    with patched(train, **oracles):
        for batch in (None, 6):
            _, _, h = train.fit(
                X,
                y,
                Xt,
                yt,
                (w0.copy(), b0.copy()),
                _OracleLoss(),
                optim.SGD(lr=lr),
                15,
                batch_size=batch,
            )
            ref = _torch_loop(X, y, Xt, yt, w0, b0, 15, batch, lr)
            label = "full batch" if batch is None else f"batches of {batch}"
            for key in ("train_loss", "test_loss", "weight", "bias"):
                try:
                    worst = max(
                        worst, expect_close(getattr(h, key), ref[key], f"history.{key} ({label})")
                    )
                except Fail as f:
                    f.hint = f.hint or (
                        "train loss: the mean of the batch losses, each before its step; "
                        "test loss: after the epoch's last step"
                    )
                    raise
    return worst


def check_checkpoint() -> float:
    """Task 10: the file is valid safetensors with the documented keys, and loads back."""
    ck, optim, train = student("checkpoint"), student("optim"), student("train")
    w, b = seeded((3,), 50), seeded((1,), 51)
    state = optim.SGDState(momentum_buffer=[seeded((3,), 52), seeded((1,), 53)], step=7)
    history = train.History(
        [0.5, 0.4], [0.6, 0.5], [seeded((3,), 54), seeded((3,), 55)], [0.1, 0.2]
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ck.safetensors"
        ck.save(path, w, b, state, history, {"loss": "l1"})
        try:
            raw = safetensors.numpy.load_file(path)  # a third-party reader, not ours
        except Exception as e:
            raise Fail(f"the saved file is not valid safetensors ({e})") from None
        worst = max(
            expect_close(raw.get("weight"), w, "saved weight", 0, 0),
            expect_close(raw.get("bias"), b, "saved bias", 0, 0),
        )
        worst = max(
            worst,
            expect_close(
                raw.get("optimizer.momentum_buffer.weight"),
                state.momentum_buffer[0],
                "saved momentum buffer",
                0,
                0,
            ),
        )
        worst = max(
            worst,
            expect_close(
                raw.get("history.train_loss"), [0.5, 0.4], "saved history.train_loss", 0, 0
            ),
        )
        loaded = ck.load(path)
        worst = max(
            worst,
            expect_close(loaded.weight, w, "loaded weight", 0, 0),
            expect_close(loaded.bias, b, "loaded bias", 0, 0),
        )
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        try:
            ck.load(path)
        except ck.CheckpointError:
            return worst
        except Exception as e:
            raise Fail(f"a truncated file raised {type(e).__name__}, not CheckpointError") from None
        raise Fail(
            "a truncated file loaded without an error",
            hint="let read_safetensors turn parse failures into CheckpointError",
        )


def _chapter_torch_run() -> tuple[dict, np.ndarray, np.ndarray]:
    """The chapter's exercise in plain torch: y = 0.3x + 0.9, arange(0, 1, 0.01), seed 42."""
    X = torch.arange(0, 1, 0.01).unsqueeze(dim=1)
    y = 0.3 * X + 0.9
    n = int(0.8 * len(X))
    torch.manual_seed(42)
    w = torch.nn.Parameter(torch.randn(1, dtype=torch.float))
    b = torch.nn.Parameter(torch.randn(1, dtype=torch.float))
    w0, b0 = w.detach().numpy().copy(), b.detach().numpy().copy()
    opt = torch.optim.SGD([w, b], lr=0.01)
    out: dict[str, list] = {"train_loss": [], "test_loss": [], "weight": [], "bias": []}
    for _ in range(300):
        loss = torch.nn.functional.l1_loss(w * X[:n] + b, y[:n])
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.inference_mode():
            test = torch.nn.functional.l1_loss(w * X[n:] + b, y[n:])
        out["train_loss"].append(loss.item())
        out["test_loss"].append(test.item())
        out["weight"].append([w.item()])
        out["bias"].append(b.item())
    return out, w0, b0


def _oracle_line(
    weight: float = 0.7,
    bias: float = 0.3,
    start: float = 0.0,
    end: float = 1.0,
    step: float = 0.02,
    train_split: float = 0.8,
    **_: object,
) -> types.SimpleNamespace:
    """The course's data cells in torch, standing in for the student's make_line."""
    X = torch.arange(start, end, step).unsqueeze(dim=1)
    y = weight * X + bias
    n = int(train_split * len(X))
    return types.SimpleNamespace(
        X_train=X[:n].numpy(), y_train=y[:n].numpy(), X_test=X[n:].numpy(), y_test=y[n:].numpy()
    )  # fmt: skip


def _oracle_fit(
    X: np.ndarray,
    y: np.ndarray,
    Xt: np.ndarray,
    yt: np.ndarray,
    params: tuple,
    loss: object,
    opt: object,
    epochs: int,
    *_: object,
    **__: object,
) -> tuple:
    """The course's torch loop, standing in for the student's fit."""
    if not isinstance(loss, _OracleLoss):
        raise Fail("the exercise trains with L1 loss: pass LOSSES['l1']")
    w, b = (torch.nn.Parameter(torch.tensor(np.array(p, dtype=np.float32))) for p in params)
    sgd = torch.optim.SGD([w, b], lr=opt.lr)
    h = types.SimpleNamespace(train_loss=[], test_loss=[], weight=[], bias=[])
    for _ in range(epochs):
        value = torch.nn.functional.l1_loss(w * torch.tensor(X) + b, torch.tensor(y))
        sgd.zero_grad()
        value.backward()
        sgd.step()
        with torch.no_grad():
            test = torch.nn.functional.l1_loss(w * torch.tensor(Xt) + b, torch.tensor(yt))
        h.train_loss.append(value.item())
        h.test_loss.append(test.item())
        h.weight.append([w.item()])
        h.bias.append(b.item())
    return (w, b), None, h


def check_chapter() -> float:
    """Task 11: the chapter's exercise, wired with oracle data and loop, matches torch's run."""
    exercise = student("exercise")
    ref, w0, b0 = _chapter_torch_run()
    oracles = {"make_line": _oracle_line, "fit": _oracle_fit, "LOSSES": {"l1": _OracleLoss()}}
    with patched(exercise, **oracles):
        h = exercise.chapter_exercise(w0.copy(), b0.copy())
    worst = 0.0
    for key in ("train_loss", "test_loss", "weight", "bias"):
        if len(getattr(h, key, [])) != 300:
            got = len(getattr(h, key, []))
            raise Fail(f"history.{key} has {got} entries, expected 300 epochs")
        try:
            worst = max(
                worst, expect_close(getattr(h, key), ref[key], f"history.{key}", 1e-6, 1e-7)
            )
        except Fail as f:
            f.hint = "the line is y = 0.3·x + 0.9 over arange(0, 1, 0.01); L1, SGD(lr=0.01)"
            raise
    return worst


ADAM_CASES = {
    "adam": {},
    "weight decay (L2)": {"weight_decay": 0.1},
    "adamw": {"weight_decay": 0.1, "decoupled": True},
    "amsgrad": {"amsgrad": True},
    "small betas": {"betas": (0.3, 0.6), "eps": 0.01},
}


def check_adam() -> float:
    """Task 12: five Adam/AdamW steps against torch.optim, per option."""
    optim = student("optim")
    worst = 0.0
    for case, options in ADAM_CASES.items():
        decoupled = options.get("decoupled", False)
        kwargs = {k: v for k, v in options.items() if k != "decoupled"}
        p = torch.nn.Parameter(torch.tensor(seeded((3,), 60)))
        topt = (torch.optim.AdamW if decoupled else torch.optim.Adam)([p], lr=0.05, **kwargs)
        opt = optim.Adam(lr=0.05, **options)
        params = (p.detach().numpy().copy(),)
        state = optim.adam_init(params, opt.amsgrad)
        for k in range(5):
            grad = seeded((3,), 70 + k)
            p.grad = torch.tensor(grad)
            topt.step()
            params, state = optim.adam_step(params, (grad,), state, opt)
            try:
                worst = max(
                    worst, expect_close(params[0], p.detach().numpy(), f"θ ({case}, step {k})")
                )
            except Fail as f:
                f.hint = {
                    "weight decay (L2)": "Adam adds λ·θ to the gradient before the moments",
                    "adamw": "AdamW shrinks θ by (1 - η·λ) first and leaves the gradient alone",
                    "amsgrad": "amsgrad divides by the running max of v, kept in the state",
                }.get(case, "m̂ = m/(1 - β1ᵗ), v̂ = v/(1 - β2ᵗ), and ε goes outside the root: √v̂ + ε")
                raise
    return worst


CHECKS: dict[int, Callable[[], float]] = {
    1: check_data,
    2: check_forward,
    3: check_mse,
    4: check_l1,
    5: check_huber,
    6: check_backward,
    7: check_sgd_update,
    8: check_sgd_direction,
    9: check_loop,
    10: check_checkpoint,
    11: check_chapter,
    12: check_adam,
}


def _alarm(signum: int, frame: object) -> None:
    raise TimeoutError


def run_task(number: int, timeout: float = TIMEOUT_S) -> Result:
    """Grade one task; any exception from student code is a FAIL with its message."""
    name = BY_NUMBER[number].name
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        maxdiff = CHECKS[number]()
        return Result(number, name, True, maxdiff, "", "")
    except Fail as f:
        return Result(number, name, False, f.maxdiff, str(f), f.hint)
    except TimeoutError:
        return Result(
            number,
            name,
            False,
            None,
            f"timed out after {timeout:g} s",
            "look for a loop that never ends",
        )
    except NotImplementedError:
        return Result(
            number, name, False, None, "not implemented yet", "replace the raise with your code"
        )
    except SyntaxError as e:
        return Result(
            number,
            name,
            False,
            None,
            f"SyntaxError in {Path(e.filename or '?').name} line {e.lineno}: {e.msg}",
            "",
        )
    except Exception as e:
        where = _student_frame(e)
        return Result(
            number, name, False, None, f"{type(e).__name__}: {e}{where}".replace("\n", " "), ""
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _student_frame(e: BaseException) -> str:
    tb, where = e.__traceback__, ""
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.parent.name == "manual":
            where = f" (manual/{path.name} line {tb.tb_lineno})"
        tb = tb.tb_next
    return where


def main(argv: list[str]) -> int:
    """`python -m compare.exercises.checks DIR TIMEOUT [N ...]`: one JSON result per line."""
    folder, timeout = argv[0], float(argv[1])
    numbers = [int(a) for a in argv[2:]] or sorted(CHECKS)
    sys.path.insert(0, str(Path(folder).resolve()))
    out = sys.stdout
    sys.stdout = sys.stderr  # student prints must not corrupt the JSON lines
    for n in numbers:
        result = run_task(n, timeout)
        out.write(json.dumps(asdict(result)) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
