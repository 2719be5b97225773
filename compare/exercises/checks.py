"""What each task must return, worked out with torch in the grader's own process.

Every task is graded on the course's fixed case and on inputs drawn at grading time from the
run's seed: d from 1 to 5, N that a batch size does not divide, non-zero parameters, both
dtypes. `build` makes the request the sandboxed child runs; `judge` compares the child's
answer with torch autograd and torch.optim, case by case, and names the likely mistake.
Nothing here is ever visible to, or importable by, the student's code.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
import torch

from compare.diagnose.catalogue import kink_slack
from compare.exercises.tasks import STEP_GRADIENTS

DTYPES = ("float32", "float64")
TOL = {  # (rtol, atol) per dtype; Adam in float64 is judged looser, see judge_loop
    "float32": (2e-6, 1e-6),
    "float64": (1e-10, 1e-12),
    "float64-adam": (1e-8, 1e-10),
}


@dataclass
class Case:
    """One separately graded case of a task."""

    name: str  # what this case exercises, e.g. "momentum + weight decay"
    passed: bool  # the student's answer matched torch
    maxdiff: float | None = None  # largest |student - torch| seen
    message: str = ""  # what differed (empty on pass)
    hint: str = ""  # the likely mistake


class Fail(Exception):
    """A check did not hold."""

    def __init__(self, message: str, maxdiff: float | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.maxdiff, self.hint = maxdiff, hint


@dataclass
class Plan:
    """A task's request for the child and what the grader keeps back to judge the answer."""

    request: dict[str, Any]  # sent to the child (inputs only)
    expected: dict[str, Any] = field(default_factory=dict)  # kept here
    cleanup: Callable[[], None] = lambda: None
    shared: Path | None = None  # a folder of the grader's the child may write in (saves)


# ------------------------------------------------------------------------------ comparisons


def expect_close(
    got: object,
    ref: object,
    what: str,
    dtype: str = "float64",
    exact: bool = False,
    n: int | None = None,
) -> float:
    """Shape, then values, cmp-style: the maxdiff, or a Fail naming what differs and why."""
    if got is None:
        raise Fail(f"{what} is None", hint="you returned None: is a `return` missing?")
    try:
        mine = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Fail(f"{what} is a {type(got).__name__}, not an array of numbers") from None
    want = np.asarray(ref, dtype=np.float64)
    if mine.shape != want.shape:
        raise Fail(
            f"{what} has shape {mine.shape}, expected {want.shape}", hint=shape_hint(mine, want)
        )
    diff = float(np.max(np.abs(mine - want))) if want.size else 0.0
    rtol, atol = (0.0, 0.0) if exact else TOL[dtype]
    if not np.all(np.isfinite(mine)) or not np.allclose(mine, want, rtol=rtol, atol=atol):
        raise Fail(f"{what} differs from torch", diff, ratio_hint(mine, want, n))
    return diff


def shape_hint(got: np.ndarray, ref: np.ndarray) -> str:
    if got.size == ref.size:
        return f"right numbers, wrong shape: return shape {ref.shape}"
    if got.size == 1 and ref.size > 1:
        return "a single number where an array is expected: did you sum or average it away?"
    return f"expected {ref.shape}: check which axis you reduce over, and keep (N, 1) columns"


def ratio_hint(got: np.ndarray, ref: np.ndarray, n: int | None = None) -> str:
    """Name the classic slips: a factor of 2, a missing or extra 1/N, a flipped sign."""
    mask = np.abs(ref) > 1e-12
    if not mask.any() or not np.all(np.isfinite(got)):
        return ""
    ratios = got[mask] / ref[mask]
    if not np.allclose(ratios, ratios.flat[0], rtol=1e-6):
        return ""
    k = float(ratios.flat[0])
    n = n or (ref.shape[0] if ref.ndim else 1)  # N, the batch the mean runs over
    slips = [
        (0.5, "off by a factor of 2: is your MSE mean-reduced without the ½? d(r²)/dr = 2r"),
        (2.0, "off by a factor of 2: the mean of r² has derivative 2r/N, not 4r/N"),
        (-1.0, "the sign is flipped: the residual is r = ŷ - y, and you step against the gradient"),
    ]
    if n > 2:
        slips += [
            (float(n), "off by a factor of N: the mean reduction divides by N"),
            (
                1 / n,
                "off by a factor of 1/N: dpred already holds the mean's 1/N; sum, don't average",
            ),
        ]
    return next((hint for value, hint in slips if np.isclose(k, value, rtol=1e-6)), "")


def seeded(rng: np.random.Generator, shape: tuple[int, ...], dtype: str = "float64") -> np.ndarray:
    """Non-zero values of either sign, so a zero cannot hide a wrong gradient."""
    return (rng.uniform(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape)).astype(dtype)


def as_tensor(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a), requires_grad=grad)


TORCH_LOSSES: dict[str, Callable[[], torch.nn.Module]] = {
    "l1": torch.nn.L1Loss,
    "mse": torch.nn.MSELoss,
    "huber": torch.nn.HuberLoss,
}


def answer_cases(answer: Any, n: int, what: str) -> list[Any]:
    """The child's per-case list, checked for length."""
    cases = answer.get("calls", answer.get("cases")) if isinstance(answer, dict) else None
    if not isinstance(cases, list) or len(cases) != n:
        raise Fail(f"{what}: the grader got {len(cases or [])} answers for {n} cases")
    return cases


NOT_WRITTEN = "not implemented yet"  # the message of a task whose stub still raises


def error_line(error: dict[str, Any]) -> tuple[str, str]:
    """What the student's code raised, as a message and a hint."""
    kind, msg, at = error.get("kind", "Error"), error.get("message", ""), error.get("where", "")
    where = f" ({at})" if at else ""
    if kind == "NotImplementedError":
        return NOT_WRITTEN, "replace the raise NotImplementedError with your code"
    if kind in ("SyntaxError", "IndentationError", "TabError"):
        return f"{kind} in {at or 'manual/'}: {msg}", "fix the syntax: nothing in that file can run"
    if kind == "ImportError" and "torch" in msg:
        return f"{msg}{where}", "derive it by hand with NumPy: that is the exercise"
    if kind == "SystemExit":
        return f"your code called sys.exit() (or exit/quit){where}", "return values; never exit"
    if kind == "Refused":
        return msg, ""
    if "NoneType" in msg:
        return f"{kind}: {msg}{where}", "you returned None somewhere: is a `return` missing?"
    if kind in ("KeyError", "AttributeError"):
        return (
            f"{kind}: {msg}{where}",
            "a name or key your code expects is missing (a state field?)",
        )
    return f"{kind}: {msg}{where}", ""


def keeps_hint(case: Case) -> bool:
    """A hint about form (None, a shape, a missing name) beats the case's own advice."""
    form = ("you returned", "right numbers", "a single number", "expected (", "a name or key")
    return case.hint.startswith(form) or case.message.startswith(("not implemented", "your code"))


def judged(name: str, check: Callable[[], float], got: object = None) -> Case:
    """Run one case's comparison; a Fail becomes a failed Case with its hint."""
    if isinstance(got, dict) and "__error__" in got:
        message, hint = error_line(got["__error__"])
        return Case(name, False, None, message, hint)
    try:
        return Case(name, True, check())
    except Fail as f:
        return Case(name, False, f.maxdiff, str(f), f.hint)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        return Case(name, False, None, f"the answer has an unexpected form ({e})", "")


# ------------------------------------------------------------------------------ task 1: data


def build_data(rng: np.random.Generator) -> Plan:
    k = int(rng.integers(2, 6))
    line = {
        "weight": round(float(rng.uniform(-2, 2)), 3),
        "bias": round(float(rng.uniform(-1, 1)), 3),
        "start": round(float(rng.uniform(-1, 0)), 2),
        "end": round(float(rng.uniform(1, 2)), 2),
        "step": 0.05,
        "train_split": float(rng.choice([0.6, 0.7, 0.75])),
        "dtype": "float64",
    }
    seed = int(rng.integers(0, 2**31))
    wide = {
        "weight": line["weight"],
        "bias": line["bias"],
        "features": k,
        "seed": seed,
        "dtype": "float64",
    }
    calls = [{}, line, wide, {**wide, "noise": 0.3}, {**wide, "seed": seed + 1}, dict(wide)]
    return Plan({"calls": calls}, {"calls": calls})


def _split_ref(c: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, int]:
    dtype = getattr(torch, c.get("dtype", "float32"))
    X = torch.arange(c.get("start", 0.0), c.get("end", 1.0), c.get("step", 0.02), dtype=dtype)
    X = X.unsqueeze(dim=1)
    y = c.get("weight", 0.7) * X + c.get("bias", 0.3)
    return X.numpy(), y.numpy(), int(c.get("train_split", 0.8) * len(X))


def judge_data(answer: dict[str, Any], plan: Plan) -> list[Case]:
    calls = plan.expected["calls"]
    got = answer_cases(answer, len(calls), "make_line")

    def course() -> float:
        s = got[0]
        X, y, _n = _split_ref({})
        sizes = tuple(len(np.atleast_1d(s[k])) for k in ("X_train", "y_train", "X_test", "y_test"))
        if sizes != (40, 40, 10, 10):
            raise Fail(
                f"split sizes are {sizes}, expected (40, 40, 10, 10)",
                hint="the first int(0.8·N) rows train, the rest test; no shuffling",
            )
        if np.asarray(s["X_train"]).dtype != np.float32:
            raise Fail(f"X has dtype {np.asarray(s['X_train']).dtype}, expected float32 by default")
        ulp = float(np.spacing(np.float32(1)))
        d = _close_abs(np.concatenate([s["X_train"], s["X_test"]]), X, "X", ulp)
        return max(d, _close_abs(np.concatenate([s["y_train"], s["y_test"]]), y, "y", 2 * ulp))

    def any_line() -> float:
        s, c = got[1], calls[1]
        X, y, n = _split_ref(c)
        if len(s["X_train"]) != n or len(s["X_test"]) != len(X) - n:
            raise Fail(
                f"with train_split={c['train_split']} the split is "
                f"{len(s['X_train'])}/{len(s['X_test'])}, expected {n}/{len(X) - n}",
                hint="use every argument: start, end, step and train_split",
            )
        d = expect_close(np.concatenate([s["X_train"], s["X_test"]]), X, "X")
        try:
            return max(d, expect_close(np.concatenate([s["y_train"], s["y_test"]]), y, "y"))
        except Fail as f:
            f.hint = f.hint or "use the weight and bias you are given"
            raise

    def features() -> float:
        s, c = got[2], calls[2]
        X = np.concatenate([s["X_train"], s["X_test"]])
        k = c["features"]
        if X.ndim != 2 or X.shape[1] != k:
            raise Fail(f"with features={k}, X has shape {X.shape}", hint="one column per feature")
        j = np.arange(k)
        w_true = c["weight"] * (-1.0) ** j / (j + 1)
        y = np.concatenate([s["y_train"], s["y_test"]])
        ref = (as_tensor(X) @ as_tensor(w_true)[:, None] + c["bias"]).numpy()
        try:
            d = expect_close(s.get("true_weight"), w_true, "true_weight")
            return max(d, expect_close(y, ref, "y = X·w_true + bias"))
        except Fail as f:
            f.hint = (
                "y must use every column with w_j = weight·(-1)^j/(j+1), returned as true_weight"
            )
            raise

    def noise() -> float:
        s, c = got[3], calls[3]
        X = np.concatenate([s["X_train"], s["X_test"]])
        y = np.concatenate([s["y_train"], s["y_test"]])[:, 0]
        j = np.arange(c["features"])
        clean = X @ (c["weight"] * (-1.0) ** j / (j + 1)) + c["bias"]
        spread = float(np.std(y - clean))
        if not 0.1 < spread < 0.9:
            raise Fail(
                f"with noise=0.3 the residual spread is {spread:.3g}",
                hint="add noise · N(0, 1) to y, drawn from the seeded generator",
            )
        return 0.0

    def seed() -> float:
        a, b, again = got[2], got[4], got[5]
        if np.array_equal(a["X_train"], b["X_train"]):
            raise Fail(
                "a different seed gave the same extra features",
                hint="draw the extra columns from np.random.default_rng(seed)",
            )
        if not np.array_equal(a["X_train"], again["X_train"]):
            raise Fail("the same seed gave different data", hint="seed the generator with `seed`")
        return 0.0

    named = (
        ("the course's data", course, 0),
        ("any line and split", any_line, 1),
        ("d features", features, 2),
        ("noise", noise, 3),
        ("seed", seed, 4),
    )
    return [
        judged(
            n,
            f,
            got[i]
            if i != 4
            else next(
                (g for g in (got[2], got[4], got[5]) if isinstance(g, dict) and "__error__" in g),
                None,
            ),
        )
        for n, f, i in named
    ]


def _close_abs(got: object, ref: np.ndarray, what: str, atol: float) -> float:
    mine = np.asarray(got, dtype=np.float64)
    if mine.shape != ref.shape:
        raise Fail(
            f"{what} has shape {mine.shape}, expected {ref.shape}",
            hint=shape_hint(mine, ref.astype(np.float64)),
        )
    diff = float(np.max(np.abs(mine - ref)))
    if diff > atol:
        raise Fail(
            f"{what} differs from torch.arange's by {diff:.2e}",
            hint="X = arange(start, end, step) as one column; y = weight·X + bias",
        )
    return diff


# --------------------------------------------------------------------------- task 2: forward


def _shapes(rng: np.random.Generator) -> list[tuple[int, int, str]]:
    """(N, d, dtype) draws: d from 1 to 5, both dtypes."""
    return [
        (int(rng.integers(3, 30)), int(rng.integers(1, 6)), dt) for dt in DTYPES for _ in (0, 1)
    ]


def build_forward(rng: np.random.Generator) -> Plan:
    X = (np.arange(0, 1, 0.02, dtype=np.float64).astype(np.float32))[:, None]
    calls = [(X, np.array([0.3367], np.float32), np.array([0.1288], np.float32))]
    for n, d, dt in _shapes(rng):
        calls.append((seeded(rng, (n, d), dt), seeded(rng, (d,), dt), seeded(rng, (1,), dt)))
    refs = [(as_tensor(X) @ as_tensor(w)[:, None] + as_tensor(b)).numpy() for X, w, b in calls]
    return Plan({"calls": calls}, {"refs": refs, "dtypes": [str(c[0].dtype) for c in calls]})


def judge_forward(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs, dts = plan.expected["refs"], plan.expected["dtypes"]
    got = answer_cases(answer, len(refs), "forward")
    names = ["the course's model_0"] + [
        f"X {r.shape[0]}×?, {dt}" for r, dt in zip(refs[1:], dts[1:], strict=True)
    ]
    return _cases_each(names, got, refs, dts, "ŷ")


def _cases_each(
    names: list[str], got: list[Any], refs: list[Any], dts: list[str], what: str
) -> list[Case]:
    return [
        judged(n, partial(expect_close, g, r, what, dt), g)
        for n, g, r, dt in zip(names, got, refs, dts, strict=True)
    ]


# ---------------------------------------------------------------------- tasks 3-5: dL/dŷ


def _loss_inputs(rng: np.random.Generator, loss: str) -> list[tuple[np.ndarray, np.ndarray]]:
    calls = []
    for n, _, dt in _shapes(rng):
        pred, target = seeded(rng, (n, 1), dt), seeded(rng, (n, 1), dt)
        if loss == "l1":
            target[[0, n // 2]] = pred[[0, n // 2]]  # r = 0 exactly: torch's subgradient is 0
        if loss == "huber":
            target[0] = pred[0] - 1.0  # exactly on the edge |r| = δ
            target[1] = pred[1] + 3.0  # far outside
        calls.append((pred, target))
    return calls


def build_loss(loss: str, fn: str) -> Callable[[np.random.Generator], Plan]:
    def build(rng: np.random.Generator) -> Plan:
        calls = _loss_inputs(rng, loss)
        refs = []
        for pred, target in calls:
            p = as_tensor(pred, grad=True)
            TORCH_LOSSES[loss]()(p, as_tensor(target)).backward()
            refs.append(p.grad.numpy())  # type: ignore[union-attr]
        return Plan(
            {"function": fn, "calls": calls},
            {"refs": refs, "dtypes": [str(c[0].dtype) for c in calls], "loss": loss},
        )

    return build


LOSS_HINTS = {
    "l1": "dL/dŷ = sign(r)/N, with sign(0) = 0 as torch's subgradient of |r|",
    "mse": "dL/dŷ = 2r/N (the mean of r², no ½)",
    "huber": "inside |r| < δ the slope is r; outside it is δ·sign(r); then divide by N",
}


def judge_loss(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs, dts, loss = plan.expected["refs"], plan.expected["dtypes"], plan.expected["loss"]
    got = answer_cases(answer, len(refs), "dL/dŷ")
    cases = _cases_each(
        [f"N={len(r)}, {dt}" for r, dt in zip(refs, dts, strict=True)], got, refs, dts, "dL/dŷ"
    )
    for case, g, r in zip(cases, got, refs, strict=True):
        if case.passed or "shape" in case.message or "None" in case.message:
            continue
        mine = np.asarray(g, dtype=np.float64)
        if loss == "l1" and mine.shape == r.shape and np.any(mine[r == 0] != 0):
            case.hint = "sign(0) must be 0, as torch's subgradient of |r| at r = 0"
        case.hint = case.hint or LOSS_HINTS[loss]
    return cases


# --------------------------------------------------------------------------- task 6: backward


def build_backward(rng: np.random.Generator) -> Plan:
    calls, refs = [], []
    for n, d, dt in _shapes(rng):
        X, dpred = seeded(rng, (n, d), dt), seeded(rng, (n, 1), dt) / n
        w, b = (
            as_tensor(seeded(rng, (d,), dt), grad=True),
            as_tensor(seeded(rng, (1,), dt), grad=True),
        )
        (as_tensor(X) @ w[:, None] + b).backward(as_tensor(dpred))
        calls.append((X, dpred))
        refs.append((w.grad.numpy(), b.grad.numpy()))  # type: ignore[union-attr]
    return Plan({"calls": calls}, {"refs": refs, "dtypes": [str(c[0].dtype) for c in calls]})


def judge_backward(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs, dts = plan.expected["refs"], plan.expected["dtypes"]
    got = answer_cases(answer, len(refs), "backward")

    def one(g: Any, r: tuple[np.ndarray, np.ndarray], dt: str, n: int) -> float:
        if g is None:
            raise Fail("backward returned None", hint="you returned None: is a `return` missing?")
        if not isinstance(g, list) or len(g) != 2:
            raise Fail("backward must return (dw, db)")
        return max(expect_close(g[0], r[0], "dw", dt, n=n), expect_close(g[1], r[1], "db", dt, n=n))

    return [
        judged(f"X {dt}, d={r[0].shape[0]}", partial(one, g, r, dt, len(call[0])), g)
        for g, r, dt, call in zip(got, refs, dts, plan.request["calls"], strict=True)
    ]


# ----------------------------------------------------------------------- task 7: sgd_update


def build_sgd_update(rng: np.random.Generator) -> Plan:
    calls, refs = [], []
    for _, d, dt in _shapes(rng):
        theta, direction = seeded(rng, (d,), dt), seeded(rng, (d,), dt)
        lr = float(rng.choice([0.01, 0.05, 0.3]))
        p = torch.nn.Parameter(as_tensor(theta))
        p.grad = as_tensor(direction)
        torch.optim.SGD([p], lr=lr).step()
        calls.append((theta, direction, lr))
        refs.append(p.detach().numpy())
    return Plan({"calls": calls}, {"refs": refs, "dtypes": [str(c[0].dtype) for c in calls]})


def judge_sgd_update(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs, dts = plan.expected["refs"], plan.expected["dtypes"]
    cases = _cases_each(
        [f"d={len(r)}, {dt}" for r, dt in zip(refs, dts, strict=True)],
        answer_cases(answer, len(refs), "sgd_update"),
        refs,
        dts,
        "θ_new",
    )
    for c in cases:
        if not c.passed:
            c.hint = c.hint or "θ_new = θ - η·d: mind the sign, and scale by the learning rate"
    return cases


# -------------------------------------------------------------------- task 8: sgd_direction

SGD_CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "weight decay": {"weight_decay": 0.1},
    "maximize": {"maximize": True},
    "maximize + weight decay": {"maximize": True, "weight_decay": 0.1},
    "momentum": {"momentum": 0.9},
    "dampening": {"momentum": 0.9, "dampening": 0.4},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "momentum + weight decay": {"momentum": 0.9, "weight_decay": 0.1},
}
SGD_HINTS = {
    "plain": "with no options the direction is the gradient itself",
    "weight decay": "weight decay joins the gradient: g = ∇θ + λ·θ",
    "maximize": "maximize flips the gradient's sign before anything else",
    "maximize + weight decay": "flip the gradient first, then add λ·θ: g = -∇θ + λ·θ",
    "momentum": "v = μ·v + (1 - τ)·g, and the first buffer is the gradient itself",
    "dampening": "dampening scales the new gradient in the buffer: v = μ·v + (1 - τ)·g",
    "nesterov": "Nesterov steps along g + μ·v, not v",
    "momentum + weight decay": "add λ·θ to the gradient before it enters the momentum buffer",
}
STEPS = 4
ZERO_START = "the momentum buffer starts as the first gradient, not zero (torch: v₁ = g₁)"


def build_sgd_direction(rng: np.random.Generator) -> Plan:
    cases, refs = [], []
    for options in SGD_CASES.values():
        d, dt = int(rng.integers(1, 6)), str(rng.choice(DTYPES))
        thetas = [seeded(rng, (d,), dt) for _ in range(STEPS)]
        grads = [seeded(rng, (d,), dt) for _ in range(STEPS)]
        p = torch.nn.Parameter(as_tensor(thetas[0]))
        opt = torch.optim.SGD([p], lr=1.0, **options)
        steps = []
        for theta, grad in zip(thetas, grads, strict=True):
            with torch.no_grad():
                p.copy_(as_tensor(theta))
            p.grad = as_tensor(grad)
            opt.step()
            buf = opt.state[p].get("momentum_buffer")
            steps.append((theta - p.detach().numpy(), None if buf is None else buf.numpy().copy()))
        cases.append({"options": options, "thetas": thetas, "grads": grads})
        refs.append((steps, dt))
    return Plan({"cases": cases}, {"refs": refs})


def judge_sgd_direction(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs = plan.expected["refs"]
    got = answer_cases(answer, len(refs), "sgd_direction")
    out = []
    for (name, options), (steps, dt), mine in zip(SGD_CASES.items(), refs, got, strict=True):

        def check(steps: Any = steps, mine: Any = mine, dt: str = dt) -> float:
            worst = 0.0
            for k, ((direction, buf), m) in enumerate(zip(steps, mine, strict=False)):
                worst = max(
                    worst, expect_close(m["direction"], direction, f"direction (step {k})", dt)
                )
                if buf is not None:
                    worst = max(worst, expect_close(m["buffer"], buf, f"buffer (step {k})", dt))
            if len(mine) < len(steps):
                raise Fail("sgd_direction must return (direction, buffer)")
            return worst

        case = judged(name, check, mine)
        if not case.passed and not keeps_hint(case):
            case.hint = SGD_HINTS[name]
            first = mine[0] if isinstance(mine, list) and mine else {}
            if options.get("dampening") and first.get("buffer") is not None:
                g = np.asarray(plan.request["cases"][list(SGD_CASES).index(name)]["grads"][0])
                if np.allclose(
                    np.asarray(first["buffer"], dtype=np.float64), (1 - options["dampening"]) * g
                ):
                    case.hint = ZERO_START
        out.append(case)
    return out


# ------------------------------------------------------------------------------ task 9: loop


def _torch_loop(case: dict[str, Any]) -> dict[str, np.ndarray]:
    """The course's loop in plain torch: batches in `orders`, losses before each step."""
    w = torch.nn.Parameter(as_tensor(case["w0"]))
    b = torch.nn.Parameter(as_tensor(case["b0"]))
    options = dict(case["options"])
    if case["optimizer"] == "adam":
        cls = torch.optim.AdamW if options.pop("decoupled", False) else torch.optim.Adam
        opt: torch.optim.Optimizer = cls([w, b], **options)
    else:
        opt = torch.optim.SGD([w, b], **options)
    loss_fn = TORCH_LOSSES[case["loss"]]()
    X, y = as_tensor(case["X_train"]), as_tensor(case["y_train"])
    n, size = len(X), case["batch_size"] or len(X)
    hist: dict[str, list[Any]] = {"train_loss": [], "test_loss": [], "weight": [], "bias": []}
    for epoch in range(case["epochs"]):
        order = np.arange(n) if case["orders"] is None else case["orders"][epoch]
        losses = []
        for i in range(0, n, size):
            rows = torch.as_tensor(order[i : i + size])
            loss = loss_fn(X[rows] @ w[:, None] + b, y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with torch.no_grad():
            test = loss_fn(as_tensor(case["X_test"]) @ w[:, None] + b, as_tensor(case["y_test"]))
        hist["train_loss"].append(float(np.mean(losses)))
        hist["test_loss"].append(test.item())
        hist["weight"].append(w.detach().numpy().copy())
        hist["bias"].append(b.item())
    return {k: np.asarray(v, dtype=np.float64) for k, v in hist.items()}


LOOP_HINTS = {
    "full batch, the course": "per epoch: forward, loss, gradients, step; then the test loss",
    "mini-batches that do not divide N": "batches(n, batch_size, order) keeps the last short batch",
    "shuffled orders": "visit the rows in orders[epoch] when orders is given",
    "resumed with the state passed in": "start from the `state` argument when it is not None",
    "Adam through the loop": "step() dispatches on the optimizer; do not call sgd_step directly",
    "float32": "keep the arrays' dtype: no float64 sneaking in",
}


def build_loop(rng: np.random.Generator) -> Plan:
    def data(n: int, d: int, dt: str) -> dict[str, np.ndarray]:
        X = rng.uniform(0, 1, (n + 6, d)).astype(dt)
        y = (X @ seeded(rng, (d,)) + 0.3 + 0.05 * rng.standard_normal(n + 6)).astype(dt)[:, None]
        return {"X_train": X[:n], "y_train": y[:n], "X_test": X[n:], "y_test": y[n:]}

    def case(
        loss: str,
        optimizer: str,
        options: dict[str, Any],
        batch: int | None,
        shuffle: bool,
        resume: int,
        dt: str = "float64",
    ) -> dict[str, Any]:
        n, d, epochs = int(rng.integers(13, 31)), int(rng.integers(1, 6)), 6
        if batch is not None and n % batch == 0:
            n += 1  # a batch size that does not divide N
        orders = [rng.permutation(n) for _ in range(epochs)] if shuffle else None
        return {
            **data(n, d, dt),
            "w0": seeded(rng, (d,), dt),
            "b0": seeded(rng, (1,), dt),
            "loss": loss,
            "optimizer": optimizer,
            "options": options,
            "epochs": epochs,
            "batch_size": batch,
            "orders": orders,
            "resume_after": resume,
        }

    sgd = {"lr": 0.05}
    cases = [
        case("l1", "sgd", sgd, None, False, 0),
        case("mse", "sgd", sgd, 4, False, 0),
        case("huber", "sgd", sgd, 5, True, 0),
        case("mse", "sgd", {"lr": 0.05, "momentum": 0.9}, 4, True, 3),
        case("l1", "adam", {"lr": 0.05, "amsgrad": True}, 6, False, 0),
        case("l1", "sgd", sgd, None, False, 0, "float32"),
    ]
    refs = [_torch_loop(c) for c in cases]
    return Plan({"cases": cases}, {"refs": refs, "cases": cases})


def judge_loop(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs, cases = plan.expected["refs"], plan.expected["cases"]
    got = answer_cases(answer, len(refs), "fit")
    out = []
    for name, ref, c, mine in zip(LOOP_HINTS, refs, cases, got, strict=True):

        def check(ref: Any = ref, c: Any = c, mine: Any = mine) -> float:
            h, first = mine["history"], c["resume_after"]
            dt = str(c["X_train"].dtype)
            if c["optimizer"] == "adam" and dt == "float64":
                # Adam divides by √v̂ + ε: where v̂ is small the step's rounding grows by
                # |m̂|/(√v̂ + ε), up to ~1e3 here, so two correct float64 loops part by ~1e-10
                # after 30 steps. Any real slip moves them by 1e-3 or more.
                dt = "float64-adam"
            worst = 0.0
            for key in ("train_loss", "test_loss", "weight", "bias"):
                want = ref[key][first:]
                mine_k = np.asarray(h[key])
                if len(mine_k) != len(want):
                    raise Fail(f"history.{key} has {len(mine_k)} entries, expected {len(want)}")
                worst = max(worst, expect_close(mine_k, want, f"history.{key}", dt))
            return worst

        case = judged(name, check, mine)
        if not case.passed and not keeps_hint(case):
            case.hint = LOOP_HINTS[name]
            if name == "mini-batches that do not divide N" and "train_loss" in case.message:
                case.hint = "the epoch's train loss is the mean of its batches' losses"
        out.append(case)
    return out


# ------------------------------------------------------------------------ task 10: checkpoint


def build_checkpoint(rng: np.random.Generator) -> Plan:
    d, dt = int(rng.integers(1, 6)), str(rng.choice(DTYPES))
    epochs = int(rng.integers(2, 6))
    folder = tempfile.TemporaryDirectory(prefix="gradcompare-ck-")
    Path(folder.name).chmod(0o777)
    # Multiples of 1/8: exact in float32 and float64, so a history in either dtype round-trips.
    history = {
        "train_loss": rng.integers(1, 64, epochs) / 8,
        "test_loss": rng.integers(1, 64, epochs) / 8,
        "weight": rng.integers(-64, 64, (epochs, d)) / 8,
        "bias": rng.integers(-64, 64, epochs) / 8,
    }
    request = {
        "path": str(Path(folder.name) / "ck.safetensors"),
        "weight": seeded(rng, (d,), dt),
        "bias": seeded(rng, (1,), dt),
        "buffers": [seeded(rng, (d,), dt), seeded(rng, (1,), dt)],
        "step": int(rng.integers(1, 100)),
        "history": history,
        "metadata": {"loss": "l1"},
    }
    return Plan(request, {"request": request}, folder.cleanup, Path(folder.name))


def judge_checkpoint(answer: dict[str, Any], plan: Plan) -> list[Case]:
    req = plan.expected["request"]
    path = Path(req["path"])

    def saved() -> float:
        try:
            raw = safetensors.numpy.load_file(path)  # a third-party reader, not the student's
        except Exception as e:
            raise Fail(f"the saved file is not valid safetensors ({str(e)[:80]})") from None
        worst = 0.0
        for key, want in (
            ("weight", req["weight"]),
            ("bias", req["bias"]),
            ("optimizer.momentum_buffer.weight", req["buffers"][0]),
            ("optimizer.momentum_buffer.bias", req["buffers"][1]),
            *((f"history.{k}", v) for k, v in req["history"].items()),
        ):
            if key not in raw:
                raise Fail(
                    f"the file has no tensor {key!r}",
                    hint="name tensors as the layout in the module docstring says",
                )
            worst = max(worst, expect_close(raw[key], want, f"saved {key}", exact=True))
        return worst

    def loaded() -> float:
        worst = max(
            expect_close(answer["weight"], req["weight"], "loaded weight", exact=True),
            expect_close(answer["bias"], req["bias"], "loaded bias", exact=True),
        )
        for k, v in req["history"].items():
            worst = max(
                worst, expect_close(answer["history"][k], v, f"loaded history.{k}", exact=True)
            )
        return worst

    def truncated() -> float:
        if answer.get("truncated") != "CheckpointError":
            raise Fail(
                f"a truncated file gave {answer.get('truncated')}, not CheckpointError",
                hint="let read_safetensors turn parse failures into CheckpointError",
            )
        return 0.0

    return [
        judged("saved layout", saved),
        judged("loads back", loaded),
        judged("a truncated file", truncated),
    ]


# ------------------------------------------------------------- task 11: the chapter's exercise


CHAPTER_EPOCHS, CHAPTER_LR = 300, 0.01


def build_chapter(rng: np.random.Generator) -> Plan:
    w0, b0 = seeded(rng, (1,), "float32"), seeded(rng, (1,), "float32")
    X = torch.arange(0, 1, 0.01).unsqueeze(dim=1)
    y = 0.3 * X + 0.9
    n = int(0.8 * len(X))
    data = {"X_train": X[:n], "y_train": y[:n], "X_test": X[n:], "y_test": y[n:]}
    return Plan({"w0": w0, "b0": b0}, {"w0": w0, "b0": b0, "data": data})


def torch_step(w: np.ndarray, b: np.ndarray, data: dict[str, torch.Tensor]) -> dict[str, float]:
    """One epoch of the chapter's loop in float32 torch, from (w, b): loss, then w, b, test."""
    wp, bp = (
        torch.nn.Parameter(as_tensor(w.astype(np.float32))),
        torch.nn.Parameter(as_tensor(b.astype(np.float32))),
    )
    opt = torch.optim.SGD([wp, bp], lr=CHAPTER_LR)
    loss = torch.nn.functional.l1_loss(data["X_train"] @ wp[:, None] + bp, data["y_train"])
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.inference_mode():
        test = torch.nn.functional.l1_loss(data["X_test"] @ wp[:, None] + bp, data["y_test"])
    return {
        "train_loss": loss.item(),
        "weight": float(wp.detach()[0]),
        "bias": float(bp.detach()[0]),
        "test_loss": test.item(),
    }


def judge_chapter(answer: dict[str, Any], plan: Plan) -> list[Case]:
    seen = answer.get("seen", {})

    def settings() -> float:
        if seen.get("loss") != "l1":
            raise Fail(
                f"the exercise trained with {seen.get('loss')!r} loss",
                hint="the chapter's exercise uses L1 loss: LOSSES['l1']",
            )
        line = seen.get("line", {})
        if (line.get("weight"), line.get("bias"), line.get("step")) != (0.3, 0.9, 0.01):
            raise Fail(
                f"the line was made with {line}",
                hint="the line is y = 0.3·x + 0.9 over arange(0, 1, 0.01)",
            )
        if (seen.get("lr"), seen.get("epochs")) != (0.01, 300):
            raise Fail(
                f"SGD(lr={seen.get('lr')}) for {seen.get('epochs')} epochs",
                hint="SGD(lr=0.01) for 300 epochs",
            )
        return 0.0

    def history() -> float:
        """Each epoch from the student's own previous one: float32 rounding at an L1 kink
        cannot grow along the path, and a real slip shows at the epoch it happens."""
        h = answer["history"]
        mine: dict[str, np.ndarray] = {}
        for key in ("train_loss", "test_loss", "weight", "bias"):
            mine[key] = np.asarray(h[key], dtype=np.float64).reshape(-1)
            if mine[key].shape != (CHAPTER_EPOCHS,):
                raise Fail(f"history.{key} has {mine[key].size} entries, expected 300 epochs")
        data = plan.expected["data"]
        X, y = data["X_train"].double().numpy(), data["y_train"].double().numpy()
        eps = float(np.finfo(np.float32).eps)
        w, b = plan.expected["w0"].astype(np.float64), plan.expected["b0"].astype(np.float64)
        worst = 0.0
        for epoch in range(CHAPTER_EPOCHS):
            ref = torch_step(w, b, data)
            slack = CHAPTER_LR * kink_slack(X, y, w, b, eps)  # where a residual rounds to ±0
            allowed = {"weight": slack[0], "bias": slack[1], "train_loss": 0.0,
                       "test_loss": float(np.abs(X).max() + 1) * max(slack)}  # fmt: skip
            for key, want in ref.items():
                got = float(mine[key][epoch])
                gap = abs(got - want)
                if not (np.isfinite(got) and gap <= 1e-6 + 1e-5 * abs(want) + allowed[key]):
                    origin = f"your epoch {epoch - 1}" if epoch else "the start (w0, b0)"
                    raise Fail(
                        f"history.{key} at epoch {epoch} is {got:.6g}; one torch epoch from "
                        f"{origin} gives {want:.6g}",
                        gap,
                        # The one fingerprint this check can name: a path that never began
                        # at the start it was given.
                        "begin from the start (w0, b0) you are given" if epoch == 0 else "",
                    )
                worst = max(worst, gap)
            w, b = mine["weight"][epoch : epoch + 1], mine["bias"][epoch : epoch + 1]
        return worst

    return [judged("settings", settings), judged("trajectory from a random start", history)]


# ------------------------------------------------------------------------------ task 12: Adam

ADAM_CASES: dict[str, dict[str, Any]] = {
    "adam": {"eps": 1e-3},  # an ε large enough that its place (outside the root) shows
    "weight decay (L2)": {"weight_decay": 0.1},
    "adamw": {"weight_decay": 0.1, "decoupled": True},
    "amsgrad": {"amsgrad": True},
    "small betas and a large eps": {"betas": (0.3, 0.6), "eps": 0.01},
    "maximize": {"maximize": True},
    "maximize + weight decay (L2)": {"maximize": True, "weight_decay": 0.1},
    "maximize + adamw": {"maximize": True, "weight_decay": 0.1, "decoupled": True},
}
ADAM_HINTS = {
    "adam": "m̂ = m/(1 - β1ᵗ), v̂ = v/(1 - β2ᵗ), and ε goes outside the root: √v̂ + ε",
    "weight decay (L2)": "Adam adds λ·θ to the gradient before the moments",
    "adamw": "AdamW shrinks θ by (1 - η·λ) first and leaves the gradient alone",
    "amsgrad": "amsgrad divides by the running max of v, kept in the state",
    "small betas and a large eps": "use the betas and eps you are given; ε outside the root",
    "maximize": "maximize flips the gradient's sign before anything else",
    "maximize + weight decay (L2)": "flip the gradient first, then add λ·θ",
    "maximize + adamw": "flip the gradient; AdamW's decay still shrinks θ toward zero",
}


def build_adam(rng: np.random.Generator) -> Plan:
    cases, refs = [], []
    for options in ADAM_CASES.values():
        d, dt = int(rng.integers(1, 6)), str(rng.choice(DTYPES))
        theta0, grads = seeded(rng, (d,), dt), [seeded(rng, (d,), dt) for _ in range(5)]
        kwargs = {k: v for k, v in options.items() if k != "decoupled"}
        p = torch.nn.Parameter(as_tensor(theta0))
        cls = torch.optim.AdamW if options.get("decoupled") else torch.optim.Adam
        opt = cls([p], lr=0.05, **kwargs)
        thetas = []
        for g in grads:
            p.grad = as_tensor(g)
            opt.step()
            thetas.append(p.detach().numpy().copy())
        cases.append({"options": {"lr": 0.05, **options}, "theta0": theta0, "grads": grads})
        refs.append((thetas, dt))
    return Plan({"cases": cases}, {"refs": refs})


def judge_adam(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs = plan.expected["refs"]
    got = answer_cases(answer, len(refs), "adam_step")
    out = []
    for name, (thetas, dt), mine in zip(ADAM_CASES, refs, got, strict=True):

        def check(thetas: Any = thetas, mine: Any = mine, dt: str = dt) -> float:
            worst = 0.0
            for k, (want, m) in enumerate(zip(thetas, mine, strict=False)):
                worst = max(worst, expect_close(m, want, f"θ after step {k + 1}", dt))
            if len(mine) < len(thetas):
                raise Fail("adam_step must return (params, state)")
            return worst

        case = judged(name, check, mine)
        if not case.passed and not keeps_hint(case):
            case.hint = ADAM_HINTS[name]
        out.append(case)
    return out


# ------------------------------------------------------------ the torch side (tasks 13-16)


def _seed42_start() -> np.ndarray:
    # A generator of its own, seeded as torch.manual_seed(42) seeds the global one (the same
    # numbers): a batch grades students on threads, and the global generator is shared.
    seeded = torch.Generator().manual_seed(42)
    w, b = torch.randn(1, generator=seeded), torch.randn(1, generator=seeded)
    return np.concatenate([w.double().numpy(), b.double().numpy()])


def build_build(rng: np.random.Generator) -> Plan:
    lrs = [0.01, round(float(rng.uniform(0.02, 0.5)), 4)]
    return Plan({"lrs": lrs}, {"lrs": lrs, "start": _seed42_start()})


def judge_build(answer: dict[str, Any], plan: Plan) -> list[Case]:
    lrs, start = plan.expected["lrs"], plan.expected["start"]
    got = answer_cases(answer, len(lrs), "build")

    def check(mine: dict[str, Any], lr: float) -> float:
        d = expect_close(mine["params"], start, "the starting (weights, bias)")
        if (mine["loss"], mine["reduction"]) != ("L1Loss", "mean"):
            raise Fail(
                f"loss_fn is {mine['loss']}(reduction={mine['reduction']!r})",
                hint="the chapter's loss is nn.L1Loss(), mean reduction",
            )
        if mine["optimizer"] != "SGD" or not math.isclose(mine["lr"], lr):
            raise Fail(
                f"the optimizer is {mine['optimizer']}(lr={mine['lr']:g}), asked for "
                f"SGD(lr={lr:g})",
                hint="torch.optim.SGD(params=..., lr=lr)",
            )
        moved = start - lr * np.array(STEP_GRADIENTS)
        if not np.allclose(np.asarray(mine["stepped"], dtype=np.float64), moved, rtol=1e-6,
                           atol=1e-7):  # fmt: skip
            raise Fail(
                "one optimizer.step() with known gradients did not move this model's "
                "parameters by -lr·g: the optimizer does not hold them",
                hint="build the optimizer over model.parameters() of the model returned",
            )
        return d

    out = []
    for lr, mine in zip(lrs, got, strict=True):
        case = judged(f"lr={lr:g}", partial(check, mine, lr), mine)
        if not case.passed and "starting" in case.message:
            case.hint = "call torch.manual_seed(42) just before LinearRegressionModel()"
        out.append(case)
    return out


def build_torch_loop(rng: np.random.Generator) -> Plan:
    from compare.diagnose.run import Settings, course_data

    data = course_data()
    settings = [
        Settings(epochs=int(rng.integers(20, 60))),
        Settings(epochs=int(rng.integers(20, 60)), lr=0.05, loss="mse"),
        Settings(epochs=int(rng.integers(10, 30)), lr=0.05, optimizer="adam"),
    ]
    shared = {k: getattr(data, k) for k in ("X_train", "y_train", "X_test", "y_test")}
    cases = [{**shared, "epochs": s.epochs, "lr": s.lr, "loss": s.loss,
              "optimizer": s.optimizer} for s in settings]  # fmt: skip
    return Plan({"cases": cases}, {"settings": settings, "data": data})


def judge_torch_loop(answer: dict[str, Any], plan: Plan) -> list[Case]:
    from compare.diagnose.run import DiagnoseError, analyse

    settings, data = plan.expected["settings"], plan.expected["data"]
    got = answer_cases(answer, len(settings), "fit")
    out = []
    for s, rec in zip(settings, got, strict=True):
        name = f"{s.loss}, {s.optimizer} lr={s.lr:g}, {s.epochs} epochs"
        if isinstance(rec, dict) and "__error__" in rec:
            out.append(judged(name, lambda: 0.0, rec))
            continue
        try:
            diagnosis = analyse("your loop", s, data, rec)
        except DiagnoseError as e:
            out.append(Case(name, False, None, str(e), ""))
            continue
        if diagnosis.correct:
            out.append(Case(name, True, 0.0))
        elif diagnosis.diagnosis:
            first = diagnosis.diagnosis[0]
            out.append(Case(name, False, None, f"{first.id}: {first.message}", ""))
        else:
            d = diagnosis.first_departure or {}
            out.append(
                Case(
                    name,
                    False,
                    None,
                    f"the run departs from torch's at epoch {d.get('epoch')}",
                    "forward, loss, zero_grad, backward, step",
                )
            )
    return out


def build_predict(rng: np.random.Generator) -> Plan:
    cases, refs = [], []
    for _ in range(3):
        w, b = seeded(rng, (1,), "float32"), seeded(rng, (1,), "float32")
        X = rng.uniform(-1, 1, (int(rng.integers(3, 20)), 1)).astype(np.float32)
        cases.append({"w": w, "b": b, "X": X})
        refs.append((as_tensor(X) * as_tensor(w) + as_tensor(b)).double().numpy())
    return Plan({"cases": cases}, {"refs": refs})


def judge_predict(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs = plan.expected["refs"]
    got = answer_cases(answer, len(refs), "predict")

    def check(mine: dict[str, Any], ref: np.ndarray) -> float:
        if mine.get("tensor") is not True:
            raise Fail("predict returned no tensor", hint="return model(X), a torch.Tensor")
        d = expect_close(mine["pred"], ref, "ŷ", "float32")
        if mine.get("training_after") is not False:
            raise Fail("the model is still in train mode", hint="call model.eval() first")
        if mine.get("is_inference") is not True:
            raise Fail(
                "ŷ was not made under inference_mode ("
                + ("it carries an autograd graph)" if mine.get("requires_grad") else "no_grad?)"),
                hint="run it inside `with torch.inference_mode():`",
            )
        return d

    return [judged(f"N={len(r)}", partial(check, g, r), g) for g, r in zip(got, refs, strict=True)]


class _Payload:
    """Unpickled, it would create a file: the proof that a loader ran code from a file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def build_state_dict(rng: np.random.Generator) -> Plan:
    folder = tempfile.TemporaryDirectory(prefix="gradcompare-sd-")
    Path(folder.name).chmod(0o777)
    evil, marker = Path(folder.name) / "evil.pth", Path(folder.name) / "code-ran"
    torch.save({"weights": _Payload(str(marker)), "bias": torch.zeros(1)}, evil)
    request = {"w": seeded(rng, (1,), "float32"), "b": seeded(rng, (1,), "float32"),
               "path": str(Path(folder.name) / "model_0.pth"), "evil": str(evil),
               "marker": str(marker)}  # fmt: skip
    return Plan(request, {"request": request}, folder.cleanup, Path(folder.name))


def judge_state_dict(answer: dict[str, Any], plan: Plan) -> list[Case]:
    req = plan.expected["request"]

    def saved() -> float:
        try:
            state = torch.load(req["path"], weights_only=True)  # a reader the student did not write
        except Exception as e:
            raise Fail(
                f"the saved file does not load with torch.load ({str(e)[:80]})",
                hint="torch.save(model.state_dict(), path)",
            ) from None
        if not isinstance(state, dict) or set(state) != {"weights", "bias"}:
            keys = sorted(map(str, state))[:4] if isinstance(state, dict) else ""
            raise Fail(
                f"the file holds a {type(state).__name__} {keys}",
                hint="save model.state_dict(), not the model or the tensors alone",
            )
        return max(
            expect_close(state["weights"], req["w"], "saved weights", exact=True),
            expect_close(state["bias"], req["b"], "saved bias", exact=True),
        )

    def loaded() -> float:
        want = np.concatenate([req["w"], req["b"]])
        return expect_close(answer["loaded"], want, "the loaded (weights, bias)", exact=True)

    def loaded_case() -> Case:
        case = judged("loaded back", loaded, answer.get("loaded"))
        if not case.passed and not case.hint:
            case.hint = "model.load_state_dict(torch.load(path, weights_only=True))"
        return case

    def refused() -> float:
        if Path(req["marker"]).exists() or answer.get("evil") == "loaded":  # seen here
            raise Fail(
                "a file holding code was loaded (and its code ran)",
                hint="torch.load(path, weights_only=True): never unpickle objects",
            )
        return 0.0

    return [judged("saved", saved), loaded_case(), judged("a hostile file is refused", refused)]


Builder = Callable[[np.random.Generator], Plan]
Judge = Callable[[dict[str, Any], Plan], list[Case]]
CHECKS: dict[int, tuple[Builder, Judge]] = {
    1: (build_data, judge_data),
    2: (build_forward, judge_forward),
    3: (build_loss("mse", "mse_grad"), judge_loss),
    4: (build_loss("l1", "l1_grad"), judge_loss),
    5: (build_loss("huber", "huber_grad"), judge_loss),
    6: (build_backward, judge_backward),
    7: (build_sgd_update, judge_sgd_update),
    8: (build_sgd_direction, judge_sgd_direction),
    9: (build_loop, judge_loop),
    10: (build_checkpoint, judge_checkpoint),
    11: (build_chapter, judge_chapter),
    12: (build_adam, judge_adam),
    13: (build_build, judge_build),
    14: (build_torch_loop, judge_torch_loop),
    15: (build_predict, judge_predict),
    16: (build_state_dict, judge_state_dict),
}
