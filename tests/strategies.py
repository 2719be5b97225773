"""Hypothesis strategies: small, well-conditioned regression problems with non-zero values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from manual.losses import HUBER_DELTA

KINK_MARGIN = 1e-3  # keep residuals off |r| = 0 (L1) and |r| = δ (Huber), where slopes jump


@dataclass(frozen=True)
class Problem:
    X: np.ndarray  # (N, d)
    y: np.ndarray  # (N, 1)
    w: np.ndarray  # (d,)
    b: np.ndarray  # (1,)


@st.composite
def problems(draw: st.DrawFn, max_n: int = 24, max_d: int = 4) -> Problem:
    """A float64 problem from a seed, so values are dense and non-zero, never shrunk to 0.0."""
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 3.0]))
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, d))
    y = scale * rng.standard_normal((n, 1))
    w = rng.standard_normal(d)
    b = rng.standard_normal(1)
    r = np.abs(X @ w[:, None] + b - y)
    assume(np.min(r) > KINK_MARGIN)
    assume(np.min(np.abs(r - HUBER_DELTA)) > KINK_MARGIN)
    return Problem(X, y, w, b)


sgd_options = st.fixed_dictionaries(
    {
        "lr": st.sampled_from([1e-3, 0.01, 0.3]),
        "momentum": st.sampled_from([0.0, 0.5, 0.9]),
        "dampening": st.sampled_from([0.0, 0.3]),
        "weight_decay": st.sampled_from([0.0, 0.01, 0.2]),
        "nesterov": st.booleans(),
        "maximize": st.booleans(),
    }
).filter(lambda o: not o["nesterov"] or (o["momentum"] > 0 and o["dampening"] == 0))
