"""Backpropagation by hand: the chain rule from dL/dŷ to dL/dw and dL/db."""

from __future__ import annotations

import numpy as np

from manual.losses import Loss
from manual.model import forward


def backward(X: np.ndarray, dpred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chain rule through ŷ = X·w + b.

    dL/dw_j = Σ_i dL/dŷ_i · ∂ŷ_i/∂w_j = Σ_i dpred_i · X_ij   ->  dw = Xᵀ · dpred
    dL/db   = Σ_i dL/dŷ_i · ∂ŷ_i/∂b   = Σ_i dpred_i · 1     ->  db = Σ dpred
    """
    # BEGIN SOLUTION task-6
    dw = (X.T @ dpred)[:, 0]
    db = dpred.sum(axis=0)
    return dw, db
    # END SOLUTION


def gradients(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, loss: Loss
) -> tuple[float, np.ndarray, np.ndarray]:
    """One forward and one backward pass: returns (L, dL/dw, dL/db)."""
    pred = forward(X, w, b)
    dpred = loss.grad(pred, y)
    dw, db = backward(X, dpred)
    return loss.value(pred, y), dw, db
