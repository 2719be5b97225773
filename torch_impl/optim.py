"""Optimizers: torch.optim.SGD, Adam and AdamW, each holding its own state inside."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def make_sgd(
    params: Iterable[torch.nn.Parameter],
    lr: float = 0.01,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> torch.optim.SGD:
    """torch.optim.SGD with the course's lr; every option is passed through unchanged."""
    return torch.optim.SGD(
        params,
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
        maximize=maximize,
    )


def make_adam(
    params: Iterable[torch.nn.Parameter],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled: bool = False,
) -> torch.optim.Adam:
    """torch.optim.Adam, or AdamW (weight decay applied to θ directly) when `decoupled`."""
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    return cls(
        params,
        lr=lr,
        betas=betas,
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
    )
