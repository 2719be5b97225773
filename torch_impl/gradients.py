"""Backpropagation by autograd: one call to backward() fills every .grad."""

from __future__ import annotations

import torch
from torch import nn

from torch_impl.model import weight_and_bias


def gradients(
    model: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor
) -> tuple[float, torch.Tensor, torch.Tensor]:
    """One forward and one backward pass: returns (L, dL/dw, dL/db) without touching the model."""
    model.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()  # the chain rule, done for us
    weight, bias = weight_and_bias(model)
    if weight.grad is None or bias.grad is None:
        raise RuntimeError("backward() left no gradient: is requires_grad off?")
    dw, db = weight.grad.detach().clone(), bias.grad.detach().clone()
    model.zero_grad()
    return loss.item(), dw.reshape(-1), db
