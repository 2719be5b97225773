"""The course's data: points on the line y = weight·X + bias, split 80/20 by slicing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """Train and test arrays, plus the parameters that generated them."""

    X_train: np.ndarray  # (n_train, d) inputs the model learns from
    y_train: np.ndarray  # (n_train, 1) their targets
    X_test: np.ndarray  # (n_test, d) held-out inputs, never trained on
    y_test: np.ndarray  # (n_test, 1) their targets
    true_weight: np.ndarray  # (d,) the weights the data was made with
    true_bias: float  # the bias the data was made with


def true_weights(weight: float, features: int) -> np.ndarray:
    """The fixed true weight vector: w_j = weight · (-1)^j / (j + 1), so w_0 is the course's."""
    j = np.arange(features)
    return weight * (-1.0) ** j / (j + 1)


def make_line(
    weight: float = 0.7,
    bias: float = 0.3,
    start: float = 0.0,
    end: float = 1.0,
    step: float = 0.02,
    train_split: float = 0.8,
    features: int = 1,
    noise: float = 0.0,
    seed: int = 42,
    dtype: str = "float32",
) -> Split:
    """Make the course's line and split it.

    X[:, 0] = arange(start, end, step)          (the course's only column)
    X[:, j] ~ Uniform(start, end), j >= 1       (extra features, seeded)
    y       = X @ w_true + bias + noise · N(0, 1)
    train   = the first int(train_split · N) rows, test = the rest (no shuffling, as the course).
    """
    # BEGIN SOLUTION task-1
    # Computed in float64 and rounded once, so the arrays do not depend on the dtype's arange.
    x0 = np.arange(start, end, step, dtype=np.float64)
    rng = np.random.default_rng(seed)
    extra = rng.uniform(start, end, size=(x0.size, features - 1))
    X = np.column_stack([x0, extra]).astype(dtype)
    w = true_weights(weight, features)
    # The course computes y from the already-rounded X, in the working dtype.
    y = X @ w.astype(dtype)[:, None] + np.asarray(bias, dtype=dtype)
    if noise > 0:
        y = y + (noise * rng.standard_normal(y.shape)).astype(dtype)
    n_train = int(train_split * len(X))
    return Split(
        X_train=X[:n_train],
        y_train=y[:n_train],
        X_test=X[n_train:],
        y_test=y[n_train:],
        true_weight=w,
        true_bias=float(bias),
    )
    # END SOLUTION
