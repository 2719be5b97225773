"""Losses and their gradients with respect to the prediction, by hand.

Each loss is defined exactly as its torch twin (mean reduction, no ½), so the two
implementations optimise the same function. r = ŷ - y is the residual, N its length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

HUBER_DELTA = 1.0  # torch.nn.HuberLoss's default


def l1(pred: np.ndarray, target: np.ndarray) -> float:
    """L = (1/N) Σ |r_i|   (nn.L1Loss, mean absolute error)."""
    return float(np.mean(np.abs(pred - target)))


def l1_grad(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """dL/dŷ_i = sign(r_i) / N, with sign(0) = 0 as torch's subgradient."""
    # BEGIN SOLUTION task-4
    resid = pred - target
    # d|r|/dr = +1 for r > 0, -1 for r < 0; |r| has no slope at 0, torch picks 0.
    dresid: np.ndarray = np.sign(resid) / resid.size
    return dresid
    # END SOLUTION


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """L = (1/N) Σ r_i²   (nn.MSELoss; no ½, unlike many textbooks)."""
    resid = pred - target
    return float(np.mean(resid * resid))


def mse_grad(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """dL/dŷ_i = 2 r_i / N."""
    # BEGIN SOLUTION task-3
    resid = pred - target
    # d(r²)/dr = 2r; the mean brings 1/N. Forgetting the 2 is the ½·MSE mismatch.
    dresid: np.ndarray = (2.0 / resid.size) * resid
    return dresid
    # END SOLUTION


def huber(pred: np.ndarray, target: np.ndarray, delta: float = HUBER_DELTA) -> float:
    """L = (1/N) Σ h(r_i),  h(r) = ½ r² if |r| < δ else δ (|r| - ½ δ)   (nn.HuberLoss)."""
    a = np.abs(pred - target)
    return float(np.mean(np.where(a < delta, 0.5 * a * a, delta * (a - 0.5 * delta))))


def huber_grad(pred: np.ndarray, target: np.ndarray, delta: float = HUBER_DELTA) -> np.ndarray:
    """dL/dŷ_i = clip(r_i, -δ, δ) / N."""
    # BEGIN SOLUTION task-5
    resid = pred - target
    # h'(r) = r inside |r| < δ, δ·sign(r) outside; both pieces meet at |r| = δ.
    dresid: np.ndarray = np.clip(resid, -delta, delta) / resid.size
    return dresid
    # END SOLUTION


@dataclass(frozen=True)
class Loss:
    """A loss value and its hand-derived gradient, kept together."""

    value: Callable[[np.ndarray, np.ndarray], float]  # L(ŷ, y)
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]  # dL/dŷ, same shape as ŷ


LOSSES: dict[str, Loss] = {
    "l1": Loss(l1, l1_grad),
    "mse": Loss(mse, mse_grad),
    "huber": Loss(huber, huber_grad),
}
