"""The training step under torch.compile, two ways: the course's, and the hand-derived one.

compile_step fuses the course's five lines, autograd and all: the backward pass is traced
too, but the graph's saved tensors (the residual, the sign mask) must still be written out.
compile_hand_step fuses the chain rule written in torch ops (nograd.py) with the optimizer's
update written out: no graph at all, so the compiler can stream X and y once and keep
everything else in registers. Derive by hand, then let a compiler fuse it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from torch_impl.nograd import gradients
from torch_impl.train import train_step


def compile_step() -> Callable[..., torch.Tensor]:
    """torch.compile(train_step); the first call compiles (seconds), later calls are fast."""
    # optimizer.step() opens a profiler range that dynamo drops, and says so once per process.
    logging.getLogger("torch._dynamo.variables.ctx_manager").setLevel(logging.ERROR)
    return torch.compile(train_step)


@torch.no_grad()
def hand_sgd_step(
    X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor, lr: float, loss: str
) -> torch.Tensor:
    """θ ← θ - lr·∇θ with the hand gradient, in place; returns the loss before the step."""
    value, dw, db = gradients(X, y, w, b, loss)
    w.sub_(lr * dw)
    b.sub_(lr * db)
    return value


@torch.no_grad()
def hand_adam_step(
    X: torch.Tensor,
    y: torch.Tensor,
    params: tuple[torch.Tensor, torch.Tensor],
    moments: tuple[torch.Tensor, ...],
    corrections: torch.Tensor,
    lr: float,
    loss: str,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> torch.Tensor:
    """Adam by hand, in place: m, v, then θ -= lr/(1 - β1ᵗ) · m / (√v / √(1 - β2ᵗ) + ε).

    moments: (m_w, m_b, v_w, v_b); corrections: [1 - β1ᵗ, √(1 - β2ᵗ)], computed by the
    caller, so t changing never makes the compiler trace again.
    """
    w, b = params
    value, dw, db = gradients(X, y, w, b, loss)
    beta1, beta2 = betas
    for theta, g, m, v in ((w, dw, moments[0], moments[2]), (b, db, moments[1], moments[3])):
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        theta.sub_(lr / corrections[0] * m / (v.sqrt() / corrections[1] + eps))
    return value


def compile_hand_step(optimizer: str = "sgd") -> Callable[..., torch.Tensor]:
    """torch.compile of the hand-derived SGD or Adam step: no autograd graph anywhere."""
    logging.getLogger("torch._dynamo.variables.ctx_manager").setLevel(logging.ERROR)
    return torch.compile(hand_adam_step if optimizer == "adam" else hand_sgd_step)
