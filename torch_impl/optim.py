"""Optimizers: torch.optim.SGD, Adam and AdamW, each keeping its state inside itself.

manual/optim.py writes out what these do. Here the state lives in optimizer.state[param]:
    SGD    "momentum_buffer" (after the first step with momentum > 0)
    Adam   "step", "exp_avg" (m), "exp_avg_sq" (v), and "max_exp_avg_sq" with amsgrad
"""

from __future__ import annotations

from collections.abc import Callable

import torch

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,  # θ ← θ - η·g, with momentum, Nesterov, weight decay, maximize
    "adam": torch.optim.Adam,  # weight decay as λ·θ added to the gradient (L2)
    "adamw": torch.optim.AdamW,  # weight decay applied to θ itself (decoupled)
}


def optimizer_family(optimizer: torch.optim.Optimizer | None) -> str:
    """'adam' for Adam and AdamW (they keep the same state), else 'sgd'."""
    return "adam" if isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW) else "sgd"
