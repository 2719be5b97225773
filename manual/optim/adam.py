"""Adam and AdamW as torch.optim does them: bias-corrected moments, L2 or decoupled decay, amsgrad.

A pure step: (params, grads, state, hyperparameters) -> (new params, new state). The state's
fields are named after the keys torch keeps in optimizer.state[param].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Params = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Adam:
    """The hyperparameters of torch.optim.Adam (decoupled=False) and AdamW (decoupled=True)."""

    lr: float = 1e-3  # step size η
    betas: tuple[float, float] = (0.9, 0.999)  # β1, β2: decay of the 1st and 2nd moment averages
    eps: float = 1e-8  # ε: added to √v̂ so the division never blows up
    weight_decay: float = 0.0  # λ: L2 in the gradient (Adam), or θ shrink (AdamW)
    amsgrad: bool = False  # divide by the running max of v̂ instead of v̂
    maximize: bool = False  # climb the objective instead of descending it
    decoupled: bool = False  # AdamW: decay θ directly, outside the moment estimates


@dataclass
class AdamState:
    """What Adam remembers: the step count and per-parameter moment estimates."""

    exp_avg: list[np.ndarray] = field(default_factory=list)  # m, 1st moment (mean of g)
    exp_avg_sq: list[np.ndarray] = field(default_factory=list)  # v, 2nd moment (mean of g²)
    max_exp_avg_sq: list[np.ndarray | None] = field(default_factory=list)  # max v, for amsgrad
    step: int = 0  # steps taken so far, t


def adam_init(params: Params, amsgrad: bool = False) -> AdamState:
    """A fresh state: zero moments, zero steps, as torch's lazily created state."""
    return AdamState(
        exp_avg=[np.zeros_like(p) for p in params],
        exp_avg_sq=[np.zeros_like(p) for p in params],
        max_exp_avg_sq=[np.zeros_like(p) if amsgrad else None for p in params],
        step=0,
    )


def adam_step(
    params: Params, grads: Params, state: AdamState, opt: Adam
) -> tuple[Params, AdamState]:
    """One Adam/AdamW update, returning new parameters and new state.

    t  = t + 1
    θ  = θ·(1 - η·λ)                         (AdamW only: decoupled weight decay)
    g  = ±∇θ + λ·θ                           (Adam only: L2 through the gradient)
    m  = β1·m + (1 - β1)·g
    v  = β2·v + (1 - β2)·g²
    v̂ₘ = max(v̂ₘ, v)                          (amsgrad only; then use it for v below)
    θ  = θ - η/(1 - β1ᵗ) · m / (√v / √(1 - β2ᵗ) + ε)
    """
    beta1, beta2 = opt.betas
    t = state.step + 1
    bias_correction1 = 1 - beta1**t
    bias_correction2_sqrt = math.sqrt(1 - beta2**t)
    step_size = opt.lr / bias_correction1
    new = AdamState(step=t)
    new_params = []
    for theta, grad, m, v, v_max in zip(
        params, grads, state.exp_avg, state.exp_avg_sq, state.max_exp_avg_sq, strict=True
    ):
        # BEGIN SOLUTION task-12
        g = -grad if opt.maximize else grad
        if opt.weight_decay != 0:
            if opt.decoupled:
                theta = theta * (1 - opt.lr * opt.weight_decay)
            else:
                g = g + opt.weight_decay * theta
        # torch computes this as m.lerp(g, 1 - β1): equal in exact arithmetic, ≤ 1 ulp apart.
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        if opt.amsgrad:
            v_max = v if v_max is None else np.maximum(v_max, v)
            denom = np.sqrt(v_max) / bias_correction2_sqrt + opt.eps
        else:
            denom = np.sqrt(v) / bias_correction2_sqrt + opt.eps
        theta = theta - step_size * (m / denom)
        # END SOLUTION
        new_params.append(theta)
        new.exp_avg.append(m)
        new.exp_avg_sq.append(v)
        new.max_exp_avg_sq.append(v_max)
    return tuple(new_params), new
