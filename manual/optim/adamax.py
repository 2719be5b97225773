"""Adamax as torch.optim.Adamax does it: Adam with the second moment replaced by a running max.

A pure step: (params, grads, state, hyperparameters) -> (new params, new state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from manual.optim.rmsprop import lerp

Params = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Adamax:
    """torch.optim.Adamax's hyperparameters, under its names and defaults."""

    lr: float = 2e-3  # η
    betas: tuple[float, float] = (0.9, 0.999)  # β1 for the mean of g, β2 for the decay of u
    eps: float = 1e-8  # ε: added to |g| inside the max, so u is never 0
    weight_decay: float = 0.0  # λ: L2 added to the gradient as λ·θ
    maximize: bool = False  # climb the objective instead of descending it


@dataclass
class AdamaxState:
    """Per parameter, named as torch's state keys."""

    exp_avg: list[np.ndarray] = field(default_factory=list)  # m
    exp_inf: list[np.ndarray] = field(default_factory=list)  # u, the infinity norm's estimate
    step: int = 0


def adamax_init(params: Params, opt: Adamax) -> AdamaxState:
    return AdamaxState([np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params])


def adamax_step(
    params: Params, grads: Params, state: AdamaxState, opt: Adamax
) -> tuple[Params, AdamaxState]:
    """t = t + 1;  g = ±∇θ + λ·θ;  m = lerp(m, g, 1 - β1);  u = max(β2·u, |g| + ε)
    θ = θ - η/(1 - β1ᵗ) · m / u
    """
    beta1, beta2 = opt.betas
    t = state.step + 1
    clr = opt.lr / (1 - beta1**t)
    new = AdamaxState(step=t)
    new_params = []
    for theta, grad, m, u in zip(params, grads, state.exp_avg, state.exp_inf, strict=True):
        g = -grad if opt.maximize else grad
        if opt.weight_decay != 0:
            g = g + opt.weight_decay * theta
        m = lerp(m, g, 1 - beta1)
        u = np.maximum(u * beta2, np.abs(g) + opt.eps)
        new_params.append(theta + -clr * (m / u))
        new.exp_avg.append(m)
        new.exp_inf.append(u)
    return tuple(new_params), new
