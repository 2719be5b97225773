"""ASGD as torch.optim.ASGD does it: SGD with a decaying step, and a running average of θ.

A pure step: (params, grads, state, hyperparameters) -> (new params, new state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Params = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class ASGD:
    """torch.optim.ASGD's hyperparameters, under its names and defaults."""

    lr: float = 1e-2  # η₀
    lambd: float = 1e-4  # λ: decay term, and how fast η shrinks
    alpha: float = 0.75  # power of η's decay
    t0: float = 1e6  # the step at which averaging starts
    weight_decay: float = 0.0  # L2 added to the gradient as weight_decay·θ
    maximize: bool = False  # climb the objective instead of descending it


@dataclass
class ASGDState:
    """Per parameter, named as torch's state keys; eta and mu are float32 there, as here."""

    eta: list[float] = field(default_factory=list)  # η_t, this step's size
    mu: list[float] = field(default_factory=list)  # μ_t, the averaging weight
    ax: list[np.ndarray] = field(default_factory=list)  # θ̄, the averaged parameters
    step: int = 0


def asgd_init(params: Params, opt: ASGD) -> ASGDState:
    eta = float(np.float32(opt.lr))
    return ASGDState([eta] * len(params), [1.0] * len(params), [np.zeros_like(p) for p in params])


def asgd_step(
    params: Params, grads: Params, state: ASGDState, opt: ASGD
) -> tuple[Params, ASGDState]:
    """t = t + 1;  θ = θ·(1 - λ·η_t) - η_t·g;  θ̄ = θ̄ + μ_t·(θ - θ̄)   (θ̄ = θ while μ_t = 1)
    η_{t+1} = η₀ / (1 + λ·η₀·t)^α;  μ_{t+1} = 1 / max(1, t - t0)     (rounded to float32)
    """
    t = state.step + 1
    eta_next = float(np.float32(opt.lr / ((1 + opt.lambd * opt.lr * t) ** opt.alpha)))
    mu_next = float(np.float32(1 / max(1, t - opt.t0)))
    new = ASGDState(step=t)
    new_params = []
    for theta, grad, eta, mu, ax in zip(params, grads, state.eta, state.mu, state.ax, strict=True):
        g = -grad if opt.maximize else grad
        if opt.weight_decay != 0:
            g = g + opt.weight_decay * theta
        theta = theta * (1 - opt.lambd * eta)
        theta = theta + -eta * g
        ax = ax + (theta - ax) * mu if mu != 1 else theta.copy()
        new_params.append(theta)
        new.eta.append(eta_next)
        new.mu.append(mu_next)
        new.ax.append(ax)
    return tuple(new_params), new
