"""torch.optim.lr_scheduler's keyword arguments, on the command line: `--scheduler-args …`.

Keys are torch's names (T_max, eta_min, milestones, …), written as --optim-args are; the
accepted keys of a scheduler are its fields in manual/schedulers.py, which carry torch's names
and defaults. A key with no default there (StepLR's step_size, say) must be given.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from compare.optim_args import Pairs
from manual.cycles import CyclicLR, OneCycleLR
from manual.schedulers import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    PolynomialLR,
    ReduceLROnPlateau,
    StepLR,
)

# torch.optim.lr_scheduler's class names in lower case -> the hand-written schedule
SCHEDULES: dict[str, type] = {
    "steplr": StepLR,
    "multisteplr": MultiStepLR,
    "exponentiallr": ExponentialLR,
    "cosineannealinglr": CosineAnnealingLR,
    "cosineannealingwarmrestarts": CosineAnnealingWarmRestarts,
    "linearlr": LinearLR,
    "polynomiallr": PolynomialLR,
    "reducelronplateau": ReduceLROnPlateau,
    "onecyclelr": OneCycleLR,  # manual/cycles.py: the lr and the momentum, cycled
    "cycliclr": CyclicLR,
}


# Counts of epochs, and the least each may be: a schedule over 0 epochs divides by zero.
WHOLE = {"step_size": 1, "T_max": 1, "T_0": 1, "T_mult": 1, "total_iters": 1, "patience": 0,
         "cooldown": 0, "total_steps": 1, "step_size_up": 1, "step_size_down": 1}  # fmt: skip


def accepted(name: str) -> list[str]:
    return [f.name for f in dataclasses.fields(SCHEDULES[name])]


def problem(name: str, pairs: Pairs) -> str | None:
    """Why these arguments cannot go to the scheduler `name`, in one line; None if they can."""
    fields = {f.name: f for f in dataclasses.fields(SCHEDULES[name])}
    given = dict(pairs)
    for key, value in pairs:
        if key not in fields:
            return f"--scheduler-args {key}: {name} takes {', '.join(fields)}"
        default = fields[key].default
        if (
            isinstance(default, str) != isinstance(value, str)
            and default is not dataclasses.MISSING
        ):
            return f"--scheduler-args {key}={value!r}: expected a value like {default!r}"
        if key in WHOLE and not (isinstance(value, int) and value >= WHOLE[key]):
            return f"--scheduler-args {key}={value!r}: give a whole number >= {WHOLE[key]}"
        if key == "milestones" and not (
            isinstance(value, list | tuple) and all(isinstance(v, int) and v >= 0 for v in value)
        ):
            return f"--scheduler-args milestones={value!r}: give epochs, e.g. milestones=[30,80]"
        if key == "gamma" and not (isinstance(value, int | float) and value > 0):
            return f"--scheduler-args gamma={value!r}: give a factor > 0, e.g. gamma=0.5"
    missing = [k for k, f in fields.items() if f.default is dataclasses.MISSING and k not in given]
    if missing:
        return f"--scheduler {name} needs --scheduler-args {' '.join(k + '=…' for k in missing)}"
    return None


def schedule_for(name: str, pairs: Pairs, epochs: int | None = None) -> Any:  # noqa: ANN401
    """The hand-written schedule for these (as_pairs-normalised) arguments; OneCycleLR's
    cycle is the run's `epochs` long unless total_steps says otherwise."""
    schedule = SCHEDULES[name](**dict(pairs))
    if isinstance(schedule, OneCycleLR) and schedule.total_steps is None and epochs is not None:
        schedule = dataclasses.replace(schedule, total_steps=epochs)
    return schedule


def torch_class(name: str) -> type:
    """torch.optim.lr_scheduler's class for `name`."""
    from torch_impl.cycles import CYCLES
    from torch_impl.schedulers import SCHEDULERS

    return {**SCHEDULERS, **CYCLES}[name]
