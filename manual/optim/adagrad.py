"""Adagrad as torch.optim.Adagrad does it: each coordinate's step shrinks with its own Σ g².

A pure step: (params, grads, state, hyperparameters) -> (new params, new state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Params = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Adagrad:
    """torch.optim.Adagrad's hyperparameters, under its names and defaults."""

    lr: float = 1e-2  # η, before the decay below
    lr_decay: float = 0.0  # η_t = η / (1 + (t - 1)·lr_decay)
    weight_decay: float = 0.0  # λ: L2 added to the gradient as λ·θ
    initial_accumulator_value: float = 0.0  # where Σ g² starts
    eps: float = 1e-10  # ε: added to √(Σ g²), so a coordinate never seen yet stays finite
    maximize: bool = False  # climb the objective instead of descending it


@dataclass
class AdagradState:
    """Σ g² per parameter (torch's state["sum"]) and the step count."""

    sum: list[np.ndarray] = field(default_factory=list)
    step: int = 0


def adagrad_init(params: Params, opt: Adagrad) -> AdagradState:
    return AdagradState([np.full_like(p, opt.initial_accumulator_value) for p in params], 0)


def adagrad_step(
    params: Params, grads: Params, state: AdagradState, opt: Adagrad
) -> tuple[Params, AdagradState]:
    """t = t + 1;  g = ±∇θ + λ·θ;  s = s + g²;  θ = θ - η/(1 + (t-1)·lr_decay) · g / (√s + ε)"""
    t = state.step + 1
    clr = opt.lr / (1 + (t - 1) * opt.lr_decay)
    new_params, sums = [], []
    for theta, grad, s in zip(params, grads, state.sum, strict=True):
        g = -grad if opt.maximize else grad
        if opt.weight_decay != 0:
            g = g + opt.weight_decay * theta
        s = s + g * g
        new_params.append(theta + -clr * (g / (np.sqrt(s) + opt.eps)))
        sums.append(s)
    return tuple(new_params), AdagradState(sums, t)
