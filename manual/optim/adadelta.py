"""Adadelta as torch.optim.Adadelta does it: steps sized by the ratio of two running RMS.

A pure step: (params, grads, state, hyperparameters) -> (new params, new state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Params = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Adadelta:
    """torch.optim.Adadelta's hyperparameters, under its names and defaults."""

    lr: float = 1.0  # η: scales the step Adadelta sizes for itself
    rho: float = 0.9  # ρ: how much of each running mean is kept per step
    eps: float = 1e-6  # ε: inside both roots, so the very first step is not zero
    weight_decay: float = 0.0  # λ: L2 added to the gradient as λ·θ
    maximize: bool = False  # climb the objective instead of descending it


@dataclass
class AdadeltaState:
    """Per parameter, named as torch's state keys."""

    square_avg: list[np.ndarray] = field(default_factory=list)  # E[g²]
    acc_delta: list[np.ndarray] = field(default_factory=list)  # E[Δθ²]
    step: int = 0


def adadelta_init(params: Params, opt: Adadelta) -> AdadeltaState:
    return AdadeltaState([np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params])


def adadelta_step(
    params: Params, grads: Params, state: AdadeltaState, opt: Adadelta
) -> tuple[Params, AdadeltaState]:
    """g = ±∇θ + λ·θ;  E[g²] = ρ·E[g²] + (1 - ρ)·g²
    Δ = √(E[Δθ²] + ε) / √(E[g²] + ε) · g;  E[Δθ²] = ρ·E[Δθ²] + (1 - ρ)·Δ²;  θ = θ - η·Δ
    """
    new = AdadeltaState(step=state.step + 1)
    new_params = []
    for theta, grad, sq, acc in zip(params, grads, state.square_avg, state.acc_delta, strict=True):
        g = -grad if opt.maximize else grad
        if opt.weight_decay != 0:
            g = g + opt.weight_decay * theta
        sq = sq * opt.rho + (1 - opt.rho) * g * g
        delta = np.sqrt(acc + opt.eps) / np.sqrt(sq + opt.eps) * g
        acc = acc * opt.rho + (1 - opt.rho) * delta * delta
        new_params.append(theta + -opt.lr * delta)
        new.square_avg.append(sq)
        new.acc_delta.append(acc)
    return tuple(new_params), new
