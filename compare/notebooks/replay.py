"""Each recorded step, replayed by hand from the learner's own parameters.

For step k the recording holds θ_k, the gradients g_k the step saw, θ_{k+1}, the batch the
model saw, the loss and its target. Two questions, each from the learner's own state, so
float32 rounding never grows along a path:
1. is g_k the hand-derived gradient of that loss at θ_k on that batch?
   ŷ = X·w + b,  dL/dŷ from manual/losses.py,  dw = Xᵀ·dL/dŷ,  db = Σ dL/dŷ (manual/gradients.py)
2. is θ_{k+1} the hand-derived step (manual/optim/) of torch's optimizer, with that group's
   hyperparameters, from θ_k and g_k?
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from compare.optim_args import CLASSIC, options_class
from manual.gradients import backward
from manual.losses import LOSSES, huber_grad
from manual.optim import FAMILIES, Optimizer, init_state, step

EPS32 = float(np.finfo(np.float32).eps)


def options_for(name: str, hyper: dict[str, Any]) -> Optimizer | None:
    """The hand-derived optimizer for torch.optim's `name` with one group's hyperparameters."""
    key = name.lower()
    if key not in CLASSIC and key not in FAMILIES:
        return None
    cls = options_class(key)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in hyper and hyper[f.name] is not None:
            value = hyper[f.name]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    if key in ("adam", "adamw"):
        kwargs["decoupled"] = key == "adamw"
    try:
        opt: Optimizer = cls(**kwargs)
    except (TypeError, ValueError):
        return None
    return opt


def written_kind(value: float | None, pred: np.ndarray, target: np.ndarray) -> tuple[str, str]:
    """Which loss a loss written out by hand is, from its value: (kind, reduction)."""
    with np.errstate(all="ignore"):
        r = pred - target
        candidates = {
            ("l1", "mean"): np.mean(np.abs(r)),
            ("l1", "sum"): np.sum(np.abs(r)),
            ("mse", "mean"): np.mean(r * r),
            ("mse", "sum"): np.sum(r * r),
        }
    if value is None or not math.isfinite(value):
        return "l1", "mean"
    best = min(candidates, key=lambda k: abs(float(candidates[k]) - value))
    return (
        best if abs(float(candidates[best]) - value) <= 1e-3 * (abs(value) + 1e-6) else ("?", "?")
    )


def dpred(
    kind: str, reduction: str, pred: np.ndarray, target: np.ndarray, delta: float
) -> np.ndarray:
    """dL/dŷ with pred's shape, broadcasting ŷ against y as torch does."""
    if (
        pred.shape == target.shape
        and kind in ("l1", "mse", "huber")
        and reduction in ("mean", "sum")
    ):
        d = huber_grad(pred, target, delta) if kind == "huber" else LOSSES[kind].grad(pred, target)
        return d * (pred.size if reduction == "sum" else 1)
    r = pred - target  # (N, 1) against (N,) is (N, N): every ŷ_i against every y_j
    if kind == "l1":
        d = np.sign(r)
    elif kind == "mse":
        d = 2 * r
    elif kind == "huber":
        d = np.where(np.abs(r) <= delta, r, delta * np.sign(r))
    elif kind == "smooth_l1":
        d = np.where(np.abs(r) < delta, r / delta, np.sign(r))
    else:
        return np.full(pred.shape, np.nan)
    if reduction == "mean":
        d = d / r.size
    return fold(d, pred.shape)


def fold(d: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast array back to `shape`: the chain rule through broadcasting."""
    while d.ndim > len(shape):
        d = d.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and d.shape[axis] != 1:
            d = d.sum(axis=axis, keepdims=True)
    return d


@dataclass
class Layout:
    """Which of the optimizer's tensors are the weights and which the bias."""

    weights: list[int]  # indices into the optimizer's tensors, in order
    bias: int | None


def layout_of(names: list[str], shapes: list[list[int]]) -> Layout:
    bias = next(
        (i for i, n in enumerate(names) if n.endswith("bias") and math.prod(shapes[i]) == 1), None
    )
    return Layout([i for i in range(len(names)) if i != bias], bias)


def linear(
    X: np.ndarray, theta: list[np.ndarray], lay: Layout, rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """(X as (N, d), ŷ = X·w + b as (N,)) for the learner's parameters θ."""
    w = np.concatenate([theta[i] for i in lay.weights]) if lay.weights else np.zeros(0)
    b = theta[lay.bias][0] if lay.bias is not None else 0.0
    X2 = X.reshape(rows, -1) if X.size else X.reshape(rows, 0)
    if X2.shape[1] != w.size:
        raise ValueError("shape")
    return X2, X2 @ w + b


def own_gradient(
    X: np.ndarray,
    theta: list[np.ndarray],
    lay: Layout,
    pred_shape: list[int],
    target: np.ndarray,
    kind: str,
    reduction: str,
    delta: float,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The hand-derived gradient per tensor, and how far rounding may move each entry."""
    rows = pred_shape[0] if pred_shape else 1
    X2, pred = linear(X, theta, lay, rows)
    pred = pred.reshape(pred_shape)
    d = dpred(kind, reduction, pred, target, delta).reshape(rows, 1)
    dw, db = backward(X2, d)
    absd = np.abs(d)
    tol_w = 1e-4 * (np.abs(X2).T @ absd)[:, 0] + 1e-7
    tol_b = 1e-4 * absd.sum() + 1e-7
    if kind == "l1":  # a residual within rounding of 0 may take either sign on another CPU
        w_abs = (
            np.abs(np.concatenate([theta[i] for i in lay.weights])) if lay.weights else np.zeros(0)
        )
        b_abs = abs(theta[lay.bias][0]) if lay.bias is not None else 0.0
        scale = (np.abs(X2) @ w_abs + b_abs).reshape(pred.shape)
        r = pred - target
        near = (np.abs(r) <= 8 * EPS32 * (scale + np.abs(target))).astype(np.float64)
        slack = fold(2 * near / (r.size if reduction == "mean" else 1), pred.shape).reshape(rows, 1)
        tol_w = tol_w + (np.abs(X2).T @ slack)[:, 0]
        tol_b = tol_b + slack.sum()
    grads: list[np.ndarray] = [np.zeros(0)] * len(theta)
    tols: list[np.ndarray] = [np.zeros(0)] * len(theta)
    at = 0
    for i in lay.weights:
        n = theta[i].size
        grads[i], tols[i] = dw[at : at + n], tol_w[at : at + n]
        at += n
    if lay.bias is not None:
        grads[lay.bias], tols[lay.bias] = np.array([db[0]]), np.array([tol_b])
    return grads, tols


def close(seen: list[np.ndarray | None], own: list[np.ndarray], tols: list[np.ndarray]) -> bool:
    return all(
        s is not None and s.shape == o.shape and bool(np.all(np.abs(s - o) <= t))
        for s, o, t in zip(seen, own, tols, strict=True)
    )


class Stepper:
    """torch.optim's step by hand, its state carried from the gradients the learner's steps saw."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.state: Any = None

    def predict(
        self, hyper: dict[str, Any], before: list[np.ndarray], grads: list[np.ndarray | None]
    ) -> list[np.ndarray] | None:
        opt = options_for(self.name, hyper)
        if opt is None:
            return None
        if all(g is None for g in grads):
            return [b.copy() for b in before]  # torch skips a tensor with no .grad
        g = tuple(
            np.zeros_like(b) if gi is None else gi for b, gi in zip(before, grads, strict=True)
        )
        if self.state is None:
            self.state = init_state(opt, tuple(before))
        with np.errstate(all="ignore"):
            new, self.state = step(tuple(before), g, self.state, opt)
        return [np.asarray(n, dtype=np.float64).reshape(-1) for n in new]


def step_close(predicted: list[np.ndarray], after: list[np.ndarray]) -> bool:
    for p, a in zip(predicted, after, strict=True):
        both_bad = ~np.isfinite(p) & ~np.isfinite(a)
        with np.errstate(invalid="ignore"):
            ok = np.abs(p - a) <= 2e-6 + 2e-5 * np.abs(a)
        if not np.all(ok | both_bad):
            return False
    return True
