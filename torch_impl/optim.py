"""The optimizer: torch.optim.SGD, holding its own momentum buffers inside."""

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
