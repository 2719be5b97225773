"""The exact minimiser of the MSE objective, to check where gradient descent is heading."""

from __future__ import annotations

import numpy as np


def least_squares(
    X: np.ndarray, y: np.ndarray, weight_decay: float = 0.0
) -> tuple[np.ndarray, float]:
    """(w*, b*) minimising (1/N)·‖Xw + b - y‖² + (λ/2)·(‖w‖² + b²).

    SGD's weight decay adds λθ to every parameter's gradient, the bias's included, so the
    fixed point solves ((2/N)·AᵀA + λI)·θ = (2/N)·Aᵀy with A = [X 1], θ = [w; b].
    """
    A = np.column_stack([X.astype(np.float64), np.ones(len(X))])
    target = y.astype(np.float64).reshape(-1)
    if weight_decay == 0:
        theta = np.linalg.lstsq(A, target, rcond=None)[0]
    else:
        n = len(X)
        lhs = (2.0 / n) * A.T @ A + weight_decay * np.eye(A.shape[1])
        theta = np.linalg.solve(lhs, (2.0 / n) * A.T @ target)
    return theta[:-1], float(theta[-1])


def mse_stable_lr(X: np.ndarray, momentum: float = 0.0) -> float:
    """The largest stable SGD learning rate for MSE: lr < 2(1 + μ)/λ_max of the Hessian.

    MSE is quadratic in θ = [w; b], with Hessian H = (2/N)·AᵀA, A = [X 1]. Gradient descent
    multiplies the error along H's top eigenvector by (1 - lr·λ_max) each step, so it shrinks
    only while lr < 2/λ_max; heavy-ball momentum μ widens that to 2(1 + μ)/λ_max.
    """
    A = np.column_stack([np.asarray(X, dtype=np.float64), np.ones(len(X))])
    lam_max = float(np.linalg.eigvalsh(2.0 / len(X) * A.T @ A)[-1])
    return 2.0 * (1.0 + momentum) / lam_max
