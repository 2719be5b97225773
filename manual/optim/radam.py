"""RAdam as torch.optim.RAdam does it: Adam whose adaptive step waits until v̂ can be trusted.

A pure step: (params, grads, state, hyperparameters) -> (new params, new state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from manual.optim.rmsprop import lerp

Params = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class RAdam:
    """torch.optim.RAdam's hyperparameters, under its names and defaults."""

    lr: float = 1e-3  # η
    betas: tuple[float, float] = (0.9, 0.999)  # β1, β2: decay of the 1st and 2nd moments
    eps: float = 1e-8  # ε: added to √v
    weight_decay: float = 0.0  # λ: L2 in the gradient, or θ shrink when decoupled
    decoupled_weight_decay: bool = False  # decay θ directly, as AdamW does
    maximize: bool = False  # climb the objective instead of descending it


@dataclass
class RAdamState:
    """Per parameter, named as torch's state keys."""

    exp_avg: list[np.ndarray] = field(default_factory=list)  # m
    exp_avg_sq: list[np.ndarray] = field(default_factory=list)  # v
    step: int = 0


def radam_init(params: Params, opt: RAdam) -> RAdamState:
    return RAdamState([np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params])


def radam_step(
    params: Params, grads: Params, state: RAdamState, opt: RAdam
) -> tuple[Params, RAdamState]:
    """m = lerp(m, g, 1 - β1);  v = β2·v + (1 - β2)·g²;  m̂ = m/(1 - β1ᵗ)
    ρ∞ = 2/(1 - β2) - 1;  ρ_t = ρ∞ - 2t·β2ᵗ/(1 - β2ᵗ)   (the length of v's usable memory)
    ρ_t > 5:  r = √((ρ_t - 4)(ρ_t - 2)ρ∞ / ((ρ∞ - 4)(ρ∞ - 2)ρ_t))   (the rectification)
              θ = θ - η·m̂·√(1 - β2ᵗ)/(√v + ε)·r
    else:     θ = θ - η·m̂                                      (momentum SGD: v too young)
    """
    beta1, beta2 = opt.betas
    t = state.step + 1
    bias_correction1, bias_correction2 = 1 - beta1**t, 1 - beta2**t
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2
    new = RAdamState(step=t)
    new_params = []
    for theta, grad, m, v in zip(params, grads, state.exp_avg, state.exp_avg_sq, strict=True):
        g = -grad if opt.maximize else grad
        if opt.weight_decay != 0:
            if opt.decoupled_weight_decay:
                theta = theta * (1 - opt.lr * opt.weight_decay)
            else:
                g = g + opt.weight_decay * theta
        m = lerp(m, g, 1 - beta1)
        v = v * beta2 + (1 - beta2) * g * g
        corrected = m / bias_correction1
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5  # fmt: skip
            adaptive = (bias_correction2**0.5) / (np.sqrt(v) + opt.eps)
            theta = theta + -1.0 * (corrected * opt.lr * adaptive * rect)
        else:
            theta = theta + -1.0 * (corrected * opt.lr)
        new_params.append(theta)
        new.exp_avg.append(m)
        new.exp_avg_sq.append(v)
    return tuple(new_params), new
