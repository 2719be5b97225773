"""A run's lr schedule on each side: the hand-written one, torch's, and where it starts."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch.optim.lr_scheduler import LRScheduler

from compare import scheduler_args
from compare.config import RunConfig
from manual.cycles import OneCycleLR
from manual.schedulers import PlateauState, ReduceLROnPlateau, Schedule


@dataclass(frozen=True)
class ScheduleStart:
    """Where a run's schedule starts: afresh (the default), or where a checkpoint left it."""

    steps: int = 0  # scheduler steps already taken (torch's last_epoch)
    plateau: PlateauState | None = None  # ReduceLROnPlateau's state by then
    total: int | None = None  # OneCycleLR's total_steps, fixed when the cycle was made


FRESH = ScheduleStart()  # a schedule from its start (frozen: one for every run)


def schedule_of(config: RunConfig, total: int | None = None) -> Schedule | ReduceLROnPlateau | None:
    """The hand-written lr schedule (manual/schedulers.py), or None for a constant lr; `total`
    is a resumed OneCycleLR's length, which the run it was made for fixed."""
    if config.scheduler is None:
        return None
    schedule: Schedule | ReduceLROnPlateau = scheduler_args.schedule_for(
        config.scheduler, config.scheduler_args, config.scheduler_steps
    )
    if total is not None and isinstance(schedule, OneCycleLR):
        schedule = replace(schedule, total_steps=total)
    return schedule


def make_torch_scheduler(
    config: RunConfig, optimizer: torch.optim.Optimizer
) -> LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    """torch.optim.lr_scheduler's, on `optimizer`, with the same arguments as the manual side."""
    schedule = schedule_of(config)
    if schedule is None or config.scheduler is None:
        return None
    made: LRScheduler = scheduler_args.torch_scheduler(schedule, optimizer)
    return made
