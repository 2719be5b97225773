"""NAdam as torch.optim.NAdam does it: Adam with Nesterov momentum and a warming-up μ.

A pure step: (params, grads, state, hyperparameters) -> (new params, new state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from manual.optim.rmsprop import lerp

Params = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class NAdam:
    """torch.optim.NAdam's hyperparameters, under its names and defaults."""

    lr: float = 2e-3  # η
    betas: tuple[float, float] = (0.9, 0.999)  # β1, β2: decay of the 1st and 2nd moments
    eps: float = 1e-8  # ε: added to √v̂
    weight_decay: float = 0.0  # λ: L2 in the gradient, or θ shrink when decoupled
    momentum_decay: float = 4e-3  # ψ: how fast μ_t warms up to β1
    decoupled_weight_decay: bool = False  # decay θ directly, as AdamW does
    maximize: bool = False  # climb the objective instead of descending it


@dataclass
class NAdamState:
    """Per parameter, named as torch's state keys."""

    exp_avg: list[np.ndarray] = field(default_factory=list)  # m
    exp_avg_sq: list[np.ndarray] = field(default_factory=list)  # v
    mu_product: list[float] = field(default_factory=list)  # Π μ_i so far
    step: int = 0


def nadam_init(params: Params, opt: NAdam) -> NAdamState:
    zeros = [np.zeros_like(p) for p in params]
    return NAdamState(zeros, [np.zeros_like(p) for p in params], [1.0] * len(params))


def nadam_step(
    params: Params, grads: Params, state: NAdamState, opt: NAdam
) -> tuple[Params, NAdamState]:
    """t = t + 1;  μ_t = β1·(1 - ½·0.96^(t·ψ));  P = P·μ_t (torch keeps P in float32)
    m = lerp(m, g, 1 - β1);  v = β2·v + (1 - β2)·g²;  d = √(v / (1 - β2ᵗ)) + ε
    θ = θ - η·(1 - μ_t)/(1 - P) · g/d - η·μ_{t+1}/(1 - P·μ_{t+1}) · m/d
    """
    beta1, beta2 = opt.betas
    t = state.step + 1
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * opt.momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * opt.momentum_decay)))
    new = NAdamState(step=t)
    new_params = []
    for theta, grad, m, v, product in zip(
        params, grads, state.exp_avg, state.exp_avg_sq, state.mu_product, strict=True
    ):
        g = -grad if opt.maximize else grad
        if opt.weight_decay != 0:
            if opt.decoupled_weight_decay:
                theta = theta * (1 - opt.lr * opt.weight_decay)
            else:
                g = g + opt.weight_decay * theta
        # torch's mu_product is a float32 scalar tensor: the product is rounded there each step.
        product = float(np.float32(np.float32(product) * np.float32(mu)))
        m = lerp(m, g, 1 - beta1)
        v = v * beta2 + (1 - beta2) * g * g
        denom = np.sqrt(v / (1 - beta2**t)) + opt.eps
        theta = theta + (-opt.lr * (1.0 - mu) / (1.0 - product)) * (g / denom)
        theta = theta + ((-opt.lr * mu_next) / (1.0 - product * mu_next)) * (m / denom)
        new_params.append(theta)
        new.exp_avg.append(m)
        new.exp_avg_sq.append(v)
        new.mu_product.append(product)
    return tuple(new_params), new
