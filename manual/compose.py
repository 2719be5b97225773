"""Schedules made of schedules: torch.optim.lr_scheduler's SequentialLR and ChainedScheduler.

SequentialLR hands the lr from one schedule to the next at its milestones. Each schedule
starts again from its own epoch 0, from the base lr: torch resets it at the milestone
(`_update_lr(0)`). ChainedScheduler steps every schedule at every epoch. Each of those
multiplies the lr by its own factor, so the lr is the base times the product of their
factors. That holds for the schedules whose step is a factor (StepLR, MultiStepLR,
ExponentialLR, LinearLR, PolynomialLR), and only for those. `composed_lr` is the closed form.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

from manual.schedulers import (
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    PolynomialLR,
    Schedule,
    StepLR,
    lr_at,
)

FACTORS = (StepLR, MultiStepLR, ExponentialLR, LinearLR, PolynomialLR)  # chainable as products


@dataclass(frozen=True)
class SequentialLR:
    schedulers: tuple[Schedule, ...]  # one after another …
    milestones: tuple[int, ...]  # … the next from each of these epochs (one fewer than them)


@dataclass(frozen=True)
class ChainedScheduler:
    schedulers: tuple[Schedule, ...]  # all at once: their factors multiply


Composed = SequentialLR | ChainedScheduler


def composed_lr(s: Composed, epoch: int, base_lr: float) -> float:
    """The lr of epoch e.

    SequentialLR      i = #{milestones ≤ e},  lr = lr_i(e - m_{i-1}, η)   (m_{-1} = 0)
    ChainedScheduler  lr = η · Π_i lr_i(e, 1)
    """
    if isinstance(s, SequentialLR):
        i = bisect_right(s.milestones, epoch)
        start = s.milestones[i - 1] if i else 0
        return lr_at(s.schedulers[i], epoch - start, base_lr)
    return base_lr * math.prod(lr_at(child, epoch, 1.0) for child in s.schedulers)
