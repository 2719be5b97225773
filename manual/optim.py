"""Optimizers with exactly torch.optim's semantics, their state made explicit.

Every step is a pure function: (params, grads, state, hyperparameters) -> (new params, new state).
State fields are named after the keys torch keeps in optimizer.state[param].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Params = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class SGD:
    """The hyperparameters of torch.optim.SGD, under the same names and defaults."""

    lr: float = 0.01  # step size η; the course uses 0.01
    momentum: float = 0.0  # μ: how much of the last step's velocity is kept
    dampening: float = 0.0  # τ: shrinks the new gradient's share of the velocity
    weight_decay: float = 0.0  # λ: L2 penalty, added to the gradient as λ·θ
    nesterov: bool = False  # look ahead along the velocity (needs μ > 0, τ = 0)
    maximize: bool = False  # climb the objective instead of descending it


@dataclass
class SGDState:
    """What SGD remembers between steps: one velocity buffer per parameter."""

    # None until the first step, exactly as torch's state["momentum_buffer"].
    momentum_buffer: list[np.ndarray | None] = field(default_factory=list)
    step: int = 0  # steps taken so far


def sgd_init(params: Params) -> SGDState:
    """A fresh state: no velocity yet, zero steps."""
    return SGDState(momentum_buffer=[None] * len(params), step=0)


def sgd_direction(
    theta: np.ndarray, grad: np.ndarray, buf: np.ndarray | None, opt: SGD
) -> tuple[np.ndarray, np.ndarray | None]:
    """The direction SGD steps along, and the new velocity buffer, for one parameter.

    g  = ±∇θ + λ·θ                        (sign from maximize, then weight decay)
    v  = g                  on the first step (torch starts from g, not from zeros)
    v  = μ·v + (1 - τ)·g    afterwards    (momentum with dampening)
    d  = g + μ·v  if nesterov else v      (d = g when μ = 0, and v stays None)
    """
    # BEGIN SOLUTION task-8
    g = -grad if opt.maximize else grad
    if opt.weight_decay != 0:
        g = g + opt.weight_decay * theta
    if opt.momentum != 0:
        buf = g.copy() if buf is None else opt.momentum * buf + (1 - opt.dampening) * g
        g = g + opt.momentum * buf if opt.nesterov else buf
    return g, buf
    # END SOLUTION


def sgd_update(theta: np.ndarray, direction: np.ndarray, lr: float) -> np.ndarray:
    """Plain gradient descent: θ_new = θ - η·d."""
    # BEGIN SOLUTION task-7
    return theta - lr * direction
    # END SOLUTION


def sgd_step(params: Params, grads: Params, state: SGDState, opt: SGD) -> tuple[Params, SGDState]:
    """One update; returns new parameters and new state, leaving the inputs untouched."""
    new_params = []
    new_buffers: list[np.ndarray | None] = []
    for theta, grad, buf in zip(params, grads, state.momentum_buffer, strict=True):
        direction, buf = sgd_direction(theta, grad, buf, opt)
        new_buffers.append(buf)
        new_params.append(sgd_update(theta, direction, opt.lr))
    return tuple(new_params), SGDState(momentum_buffer=new_buffers, step=state.step + 1)


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


Optimizer = SGD | Adam
OptimizerState = SGDState | AdamState


def init_state(opt: Optimizer, params: Params) -> OptimizerState:
    """The fresh state for `opt`."""
    return adam_init(params, opt.amsgrad) if isinstance(opt, Adam) else sgd_init(params)


def step(
    params: Params, grads: Params, state: OptimizerState, opt: Optimizer
) -> tuple[Params, OptimizerState]:
    """One update with whichever optimizer `opt` is; `state` must be that optimizer's."""
    if isinstance(opt, Adam) and isinstance(state, AdamState):
        return adam_step(params, grads, state, opt)
    if isinstance(opt, SGD) and isinstance(state, SGDState):
        return sgd_step(params, grads, state, opt)
    raise TypeError(f"{type(state).__name__} is not the state of {type(opt).__name__}")
