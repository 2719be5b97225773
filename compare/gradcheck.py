"""Three opinions on one gradient: the hand derivation, autograd, and central differences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from manual.gradients import gradients as hand_gradients
from manual.losses import LOSSES
from torch_impl.data import to_tensor
from torch_impl.gradients import gradients as autograd_gradients
from torch_impl.losses import make_loss
from torch_impl.model import LinearRegressionModel


def central_difference(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """∂f/∂x_k ≈ (f(x + h·e_k) - f(x - h·e_k)) / 2h, error O(h²) where f is smooth."""
    grad = np.empty_like(x, dtype=np.float64)
    for k in range(x.size):
        step = np.zeros_like(x, dtype=np.float64)
        step.flat[k] = h
        grad.flat[k] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


@dataclass(frozen=True)
class Cmp:
    """Karpathy's cmp: is `mine` bit-for-bit, or merely close to, the reference?"""

    exact: bool  # every element identical
    close: bool  # np.allclose with the given tolerances
    maxdiff: float  # max |mine - reference|


def cmp(mine: np.ndarray, reference: np.ndarray, rtol: float = 1e-7, atol: float = 1e-9) -> Cmp:
    """Compare two arrays the way backprop-ninja does: exact / close / maxdiff."""
    mine, reference = np.asarray(mine), np.asarray(reference)
    return Cmp(
        exact=bool(np.array_equal(mine, reference)),
        close=bool(np.allclose(mine, reference, rtol=rtol, atol=atol)),
        maxdiff=float(np.max(np.abs(mine - reference))) if mine.size else 0.0,
    )


@dataclass(frozen=True)
class GradRow:
    """One parameter's derivative, three ways."""

    name: str  # e.g. "dw[0]" or "db"
    hand: float  # manual/ derivation
    autograd: float  # loss.backward()
    numeric: float  # central difference of the torch loss value
    vs_autograd: Cmp  # hand against autograd
    vs_numeric: Cmp  # hand against the central difference


def check_gradients(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, loss: str
) -> list[GradRow]:
    """dL/dw and dL/db at (w, b), three ways, all in float64."""
    X, y = X.astype(np.float64), y.astype(np.float64)
    w = np.asarray(w, dtype=np.float64)
    b_arr = np.array([b], dtype=np.float64)
    d = w.size

    _, dw, db = hand_gradients(X, y, w, b_arr, LOSSES[loss])
    hand = np.concatenate([dw, db])

    model = LinearRegressionModel(features=d, dtype=torch.float64)
    loss_fn = make_loss(loss)
    Xt, yt = to_tensor(X), to_tensor(y)

    def set_params(theta: np.ndarray) -> None:
        with torch.no_grad():
            model.weights.copy_(torch.from_numpy(theta[:d]))
            model.bias.copy_(torch.from_numpy(theta[d:]))

    def torch_loss(theta: np.ndarray) -> float:
        set_params(theta)
        with torch.no_grad():
            return float(loss_fn(model(Xt), yt))

    theta0 = np.concatenate([w, b_arr])
    numeric = central_difference(torch_loss, theta0)
    set_params(theta0)
    _, tdw, tdb = autograd_gradients(model, loss_fn, Xt, yt)
    auto = np.concatenate([tdw.numpy(), tdb.numpy()])

    names = [f"dw[{j}]" for j in range(d)] + ["db"]
    return [
        GradRow(
            name=names[k],
            hand=float(hand[k]),
            autograd=float(auto[k]),
            numeric=float(numeric[k]),
            vs_autograd=cmp(hand[k : k + 1], auto[k : k + 1]),
            # Central differences carry O(h²) + rounding/h error, ~1e-9 here.
            vs_numeric=cmp(hand[k : k + 1], numeric[k : k + 1], rtol=1e-5, atol=1e-7),
        )
        for k in range(d + 1)
    ]
