"""The same three losses, from torch.nn; autograd differentiates them for us."""

from __future__ import annotations

from torch import nn

LOSSES: dict[str, type[nn.Module]] = {
    "l1": nn.L1Loss,  # (1/N) Σ |ŷ - y|
    "mse": nn.MSELoss,  # (1/N) Σ (ŷ - y)²
    "huber": nn.HuberLoss,  # (1/N) Σ h(ŷ - y), delta = 1
}


def make_loss(name: str) -> nn.Module:
    """A fresh loss module with mean reduction, torch's default."""
    return LOSSES[name]()
