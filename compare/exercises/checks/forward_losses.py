"""Tasks 2-6: the forward pass, each loss's dL/dŷ and the chain rule, judged against autograd."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from compare.exercises.checks.common import (
    TORCH_LOSSES,
    Case,
    Fail,
    Plan,
    answer_cases,
    as_tensor,
    cases_each,
    drawn_shapes,
    expect_close,
    fail_overwrites,
    judged,
    seeded,
)

# --------------------------------------------------------------------------- task 2: forward


def build_forward(rng: np.random.Generator) -> Plan:
    X = (np.arange(0, 1, 0.02, dtype=np.float64).astype(np.float32))[:, None]
    calls = [(X, np.array([0.3367], np.float32), np.array([0.1288], np.float32))]
    for n, d, dt in drawn_shapes(rng):
        calls.append((seeded(rng, (n, d), dt), seeded(rng, (d,), dt), seeded(rng, (1,), dt)))
    refs = [(as_tensor(X) @ as_tensor(w)[:, None] + as_tensor(b)).numpy() for X, w, b in calls]
    return Plan({"calls": calls}, {"refs": refs, "dtypes": [str(c[0].dtype) for c in calls]})


def judge_forward(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs, dts = plan.expected["refs"], plan.expected["dtypes"]
    got = answer_cases(answer, len(refs), "forward")
    names = ["the course's model_0"] + [
        f"X {r.shape[0]}×?, {dt}" for r, dt in zip(refs[1:], dts[1:], strict=True)
    ]
    return cases_each(names, got, refs, dts, "ŷ")


# ---------------------------------------------------------------------- tasks 3-5: dL/dŷ


def _loss_inputs(rng: np.random.Generator, loss: str) -> list[tuple[np.ndarray, ...]]:
    """(ŷ, y) per call, and for Huber a δ drawn over (0.2, 3) after the default's own call."""
    calls: list[tuple[Any, ...]] = []  # (ŷ, y) arrays, and Huber's δ as a float
    for i, (n, _, dt) in enumerate(drawn_shapes(rng)):
        pred, target = seeded(rng, (n, 1), dt), seeded(rng, (n, 1), dt)
        if loss == "l1":
            target[[0, n // 2]] = pred[[0, n // 2]]  # r = 0 exactly: torch's subgradient is 0
            # tiny residuals of either sign: their slope is still ±1/N, however small r is
            target[1] = pred[1] * (1 + np.asarray(2e-4, dtype=dt))
            target[-1] = pred[-1] * (1 - np.asarray(3e-4, dtype=dt))
        if loss == "huber":
            delta = 1.0 if i == 0 else float(rng.uniform(0.2, 3.0))
            target[0] = pred[0] - np.asarray(delta, dtype=dt)  # on the edge |r| = δ
            target[1] = pred[1] + np.asarray(3 * delta, dtype=dt)  # far outside
            calls.append((pred, target, delta))  # a float, as huber_grad documents
            continue
        calls.append((pred, target))
    return calls


def build_loss(loss: str, fn: str) -> Callable[[np.random.Generator], Plan]:
    def build(rng: np.random.Generator) -> Plan:
        calls = _loss_inputs(rng, loss)
        refs = []
        for pred, target, *delta in calls:
            p = as_tensor(pred, grad=True)
            made = TORCH_LOSSES[loss]
            fn_ = made(delta=float(delta[0])) if delta else made()  # type: ignore[call-arg]
            fn_(p, as_tensor(target)).backward()
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
    cases = cases_each(
        [f"N={len(r)}, {dt}" for r, dt in zip(refs, dts, strict=True)], got, refs, dts, "dL/dŷ"
    )
    for case, g, r in zip(cases, got, refs, strict=True):
        if case.passed or "shape" in case.message or "None" in case.message:
            continue
        mine = np.asarray(g, dtype=np.float64)
        if loss == "l1" and mine.shape == r.shape and np.any(mine[r == 0] != 0):
            case.hint = "sign(0) must be 0, as torch's subgradient of |r| at r = 0"
        case.hint = case.hint or LOSS_HINTS[loss]
    fail_overwrites(cases, plan.request["calls"], answer, ("ŷ", "y", "δ"))
    return cases


# --------------------------------------------------------------------------- task 6: backward


def build_backward(rng: np.random.Generator) -> Plan:
    calls, refs = [], []
    for n, d, dt in drawn_shapes(rng):
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
        return max(expect_close(g[0], r[0], "dw", dt, n=n, keep_dtype=True),
                   expect_close(g[1], r[1], "db", dt, n=n, keep_dtype=True))  # fmt: skip

    cases = [
        judged(f"X {dt}, d={r[0].shape[0]}", partial(one, g, r, dt, len(call[0])), g)
        for g, r, dt, call in zip(got, refs, dts, plan.request["calls"], strict=True)
    ]
    fail_overwrites(cases, plan.request["calls"], answer, ("X", "dpred"))
    return cases
