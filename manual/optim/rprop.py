"""Rprop as torch.optim.Rprop does it: only the gradient's sign counts, and each step size adapts.

A pure step: (params, grads, state, hyperparameters) -> (new params, new state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Params = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Rprop:
    """torch.optim.Rprop's hyperparameters, under its names and defaults."""

    lr: float = 1e-2  # every coordinate's first step size
    etas: tuple[float, float] = (0.5, 1.2)  # (η-, η+): shrink on a sign flip, grow on a repeat
    step_sizes: tuple[float, float] = (1e-6, 50)  # (min, max) of a step size
    maximize: bool = False  # climb the objective instead of descending it


@dataclass
class RpropState:
    """Per parameter, named as torch's state keys."""

    prev: list[np.ndarray] = field(default_factory=list)  # last step's gradient (0 after a flip)
    step_size: list[np.ndarray] = field(default_factory=list)  # Δ, per coordinate
    step: int = 0


def rprop_init(params: Params, opt: Rprop) -> RpropState:
    return RpropState([np.zeros_like(p) for p in params], [np.full_like(p, opt.lr) for p in params])


def rprop_step(
    params: Params, grads: Params, state: RpropState, opt: Rprop
) -> tuple[Params, RpropState]:
    """s = sign(g·g_prev):  Δ = clamp(Δ·(η+ if s > 0, η- if s < 0, 1 if s = 0), min, max)
    where the sign flipped, g = 0 (no step now, and no flip counted next time)
    θ = θ - sign(g)·Δ;  g_prev = g
    """
    eta_minus, eta_plus = opt.etas
    low, high = opt.step_sizes
    new = RpropState(step=state.step + 1)
    new_params = []
    for theta, grad, prev, size in zip(params, grads, state.prev, state.step_size, strict=True):
        g = -grad if opt.maximize else grad
        sign = np.sign(g * prev)
        factor = np.where(sign > 0, eta_plus, np.where(sign < 0, eta_minus, 1.0))
        size = np.clip(size * factor.astype(size.dtype), low, high)
        g = np.where(factor == eta_minus, 0, g).astype(g.dtype)
        new_params.append(theta + -1 * (np.sign(g) * size))
        new.prev.append(g)
        new.step_size.append(size)
    return tuple(new_params), new
