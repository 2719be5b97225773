"""Schedulers made of schedulers: torch.optim.lr_scheduler's SequentialLR and ChainedScheduler.

SequentialLR runs its schedulers one after another, switching at its milestones; a
ChainedScheduler steps all of them every epoch. manual/compose.py writes the same lr of every
epoch in closed form.
"""

from __future__ import annotations

from torch.optim import lr_scheduler

COMPOSED: dict[str, type] = {
    "sequentiallr": lr_scheduler.SequentialLR,  # SequentialLR(opt, schedulers, milestones)
    "chainedscheduler": lr_scheduler.ChainedScheduler,  # ChainedScheduler(schedulers, opt)
}
