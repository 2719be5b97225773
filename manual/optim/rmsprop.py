"""RMSprop as torch.optim.RMSprop does it: divide by a running root mean square of g.

A pure step: (params, grads, state, hyperparameters) -> (new params, new state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Params = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class RMSprop:
    """torch.optim.RMSprop's hyperparameters, under its names and defaults."""

    lr: float = 1e-2  # η
    alpha: float = 0.99  # α: how much of the running mean of g² is kept each step
    eps: float = 1e-8  # ε: added to the root, outside it
    weight_decay: float = 0.0  # λ: L2 added to the gradient as λ·θ
    momentum: float = 0.0  # μ: a velocity over the scaled steps (0: none)
    centered: bool = False  # divide by the variance estimate E[g²] - E[g]², not E[g²]
    maximize: bool = False  # climb the objective instead of descending it


@dataclass
class RMSpropState:
    """Per parameter, named as torch's state keys; the optional ones None when unused."""

    square_avg: list[np.ndarray] = field(default_factory=list)  # v ≈ E[g²]
    momentum_buffer: list[np.ndarray | None] = field(default_factory=list)  # b, with momentum
    grad_avg: list[np.ndarray | None] = field(default_factory=list)  # ḡ ≈ E[g], when centered
    step: int = 0


def rmsprop_init(params: Params, opt: RMSprop) -> RMSpropState:
    zeros = [np.zeros_like(p) for p in params]
    return RMSpropState(
        zeros,
        [np.zeros_like(p) if opt.momentum > 0 else None for p in params],
        [np.zeros_like(p) if opt.centered else None for p in params],
    )


def lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """torch.lerp: start + w·(end - start), computed from the nearer end as torch does."""
    near: np.ndarray = (
        start + weight * (end - start) if abs(weight) < 0.5 else end - (end - start) * (1 - weight)
    )
    return near


def rmsprop_step(
    params: Params, grads: Params, state: RMSpropState, opt: RMSprop
) -> tuple[Params, RMSpropState]:
    """g = ±∇θ + λ·θ;  v = α·v + (1 - α)·g²;  ḡ = lerp(ḡ, g, 1 - α)   (centered)
    a = √(v - ḡ²) + ε  (centered)  or  √v + ε
    b = μ·b + g/a;  θ = θ - η·b   (momentum)     or     θ = θ - η·g/a
    """
    # BEGIN SOLUTION task-17
    new = RMSpropState(step=state.step + 1)
    new_params = []
    for theta, grad, v, buf, g_avg in zip(
        params, grads, state.square_avg, state.momentum_buffer, state.grad_avg, strict=True
    ):
        g = -grad if opt.maximize else grad
        if opt.weight_decay != 0:
            g = g + opt.weight_decay * theta
        v = v * opt.alpha + (1 - opt.alpha) * g * g
        if opt.centered and g_avg is not None:
            g_avg = lerp(g_avg, g, 1 - opt.alpha)
            avg = np.sqrt(v + -1 * g_avg * g_avg) + opt.eps
        else:
            avg = np.sqrt(v) + opt.eps
        if opt.momentum > 0 and buf is not None:
            buf = buf * opt.momentum + g / avg
            theta = theta + -opt.lr * buf
        else:
            theta = theta + -opt.lr * (g / avg)
        new_params.append(theta)
        new.square_avg.append(v)
        new.momentum_buffer.append(buf)
        new.grad_avg.append(g_avg)
    return tuple(new_params), new
    # END SOLUTION
