"""The hand-derived gradient written with torch ops, autograd switched off.

Timing this next to the autograd step isolates what building and walking the graph costs:
the arithmetic is the same, only loss.backward() is replaced by the chain rule written out.
"""

from __future__ import annotations

import torch
from torch import nn

HUBER_DELTA = nn.HuberLoss().delta  # the δ the autograd side uses: read, not restated


@torch.no_grad()
def gradients(
    X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor, loss: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L, dL/dw, dL/db) for ŷ = X·w + b, by the chain rule; w: (d,), b: (1,)."""
    r = X @ w + b - y[:, 0]  # residual
    n = r.numel()
    if loss == "l1":
        g = torch.sign(r)  # d|r|/dr, sign(0) = 0
        value = r.abs().mean()
    elif loss == "huber":
        g = r.clamp(-HUBER_DELTA, HUBER_DELTA)  # h'(r)
        a = r.abs()
        value = torch.where(a < HUBER_DELTA, 0.5 * r * r, HUBER_DELTA * (a - 0.5 * HUBER_DELTA))
        value = value.mean()
    else:
        g = 2 * r  # d(r²)/dr
        value = (r * r).mean()
    return value, (X.T @ g) / n, g.sum().reshape(1) / n


def step(
    X: torch.Tensor,
    y: torch.Tensor,
    params: tuple[torch.nn.Parameter, torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    loss: str,
) -> torch.Tensor:
    """Hand gradients into .grad, then the same optimizer.step() the autograd loop uses."""
    w, b = params
    value, dw, db = gradients(X, y, w.detach(), b.detach(), loss)
    w.grad, b.grad = dw, db
    optimizer.step()
    return value
