"""Stochastic gradient descent with exactly torch.optim.SGD's semantics, state made explicit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    """What the optimizer remembers between steps: one velocity buffer per parameter."""

    # None until the first step, exactly as torch's state["momentum_buffer"].
    momentum_buffers: list[np.ndarray | None] = field(default_factory=list)
    step: int = 0  # steps taken so far


def sgd_init(params: tuple[np.ndarray, ...]) -> SGDState:
    """A fresh state: no velocity yet, zero steps."""
    return SGDState(momentum_buffers=[None] * len(params), step=0)


def sgd_step(
    params: tuple[np.ndarray, ...],
    grads: tuple[np.ndarray, ...],
    state: SGDState,
    opt: SGD,
) -> tuple[tuple[np.ndarray, ...], SGDState]:
    """One update; returns new parameters and new state, leaving the inputs untouched.

    g  = ±∇θ + λ·θ                        (sign from maximize; weight decay)
    v  = g                  on the first step
    v  = μ·v + (1 - τ)·g    afterwards    (momentum with dampening)
    g  = g + μ·v  if nesterov else v
    θ  = θ - η·g
    """
    new_params = []
    new_buffers: list[np.ndarray | None] = []
    for theta, grad, buf in zip(params, grads, state.momentum_buffers, strict=True):
        g = -grad if opt.maximize else grad
        if opt.weight_decay != 0:
            g = g + opt.weight_decay * theta
        if opt.momentum != 0:
            # torch seeds the buffer with the first gradient, undamped, not with zeros.
            buf = g.copy() if buf is None else opt.momentum * buf + (1 - opt.dampening) * g
            g = g + opt.momentum * buf if opt.nesterov else buf
        new_buffers.append(buf)
        new_params.append(theta - opt.lr * g)
    return tuple(new_params), SGDState(momentum_buffers=new_buffers, step=state.step + 1)
