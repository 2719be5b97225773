"""Cyclical schedulers: torch.optim.lr_scheduler's OneCycleLR and CyclicLR, by lower-case name.

Each moves param_groups' "lr" and, with cycle_momentum, "momentum" (or β1 of "betas") at
every scheduler.step(). manual/cycles.py writes the same values in closed form.
"""

from __future__ import annotations

from torch.optim import lr_scheduler

CYCLES: dict[str, type] = {
    "onecyclelr": lr_scheduler.OneCycleLR,  # up to max_lr, then far below the start
    "cycliclr": lr_scheduler.CyclicLR,  # triangles between base_lr and max_lr
}
