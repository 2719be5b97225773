"""SGD as torch.optim.SGD does it: momentum, dampening, Nesterov, weight decay, maximize.

A pure step: (params, grads, state, hyperparameters) -> (new params, new state). The state's
field is named after the key torch keeps in optimizer.state[param].
"""

from __future__ import annotations

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
