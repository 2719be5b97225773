"""torch.optim.lr_scheduler's keyword arguments, on the command line: `--scheduler-args …`.

Keys are torch's names (T_max, eta_min, milestones, …), written as --optim-args are; the
accepted keys of a scheduler are its fields in manual/schedulers.py, which carry torch's names
and defaults. A key with no default there (StepLR's step_size, say) must be given.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from compare.optim_args import Pairs, as_pairs
from manual.compose import FACTORS, ChainedScheduler, SequentialLR
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
    "sequentiallr": SequentialLR,  # manual/compose.py: schedules made of schedules
    "chainedscheduler": ChainedScheduler,
}
NAME_OF = {cls: name for name, cls in SCHEDULES.items()}
# What a composed schedule may hold: the closed-form schedules (a chain: those that are factors).
PARTS = ("steplr", "multisteplr", "exponentiallr", "cosineannealinglr",
         "cosineannealingwarmrestarts", "linearlr", "polynomiallr")  # fmt: skip
FACTOR_PARTS = tuple(NAME_OF[c] for c in FACTORS)


# Counts of epochs, and the least each may be: a schedule over 0 epochs divides by zero.
WHOLE = {"step_size": 1, "T_max": 1, "T_0": 1, "T_mult": 1, "total_iters": 1, "patience": 0,
         "cooldown": 0, "total_steps": 1, "step_size_up": 1, "step_size_down": 1}  # fmt: skip


def accepted(name: str) -> list[str]:  # the keys of a part of a composed one: NAME.KEY
    return [f.name for f in dataclasses.fields(SCHEDULES[name])]


def problem(name: str, pairs: Pairs) -> str | None:
    """Why these arguments cannot go to the scheduler `name`, in one line; None if they can."""
    if name in ("sequentiallr", "chainedscheduler"):
        return composed_problem(name, pairs)
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


def split(pairs: Pairs) -> tuple[dict[str, Any], dict[str, list[tuple[str, Any]]]]:
    """A composed scheduler's own keys, and its parts' keys by prefix (`linearlr.total_iters`
    or `0.total_iters`)."""
    own: dict[str, Any] = {}
    nested: dict[str, list[tuple[str, Any]]] = {}
    for key, value in pairs:
        prefix, dot, rest = key.partition(".")
        if dot:
            nested.setdefault(prefix, []).append((rest, value))
        else:
            own[key] = value
    return own, nested


def parts_of(
    own: dict[str, Any], nested: dict[str, list[tuple[str, Any]]]
) -> list[tuple[str, Pairs]]:
    """(name, arguments) of each part, in order."""
    names = list(own["schedulers"])
    return [(n, as_pairs(nested.get(n, []) + nested.get(str(i), []))) for i, n in enumerate(names)]


def composed_problem(name: str, pairs: Pairs) -> str | None:
    """SequentialLR's and ChainedScheduler's arguments, and each part's, in one line."""
    own, nested = split(pairs)
    keys = ("schedulers", "milestones") if name == "sequentiallr" else ("schedulers",)
    usage = f"{name} takes {'=[…], '.join(keys)}=[…] and NAME.KEY=… for each part"
    if set(own) - set(keys) or "schedulers" not in own:
        return f"--scheduler-args: {usage}, e.g. schedulers=[linearlr,cosineannealinglr]"
    names = own["schedulers"]
    allowed = PARTS if name == "sequentiallr" else FACTOR_PARTS
    if not (isinstance(names, tuple) and names and all(n in allowed for n in names)):
        return f"--scheduler-args schedulers={names!r}: give a list of {', '.join(allowed)}"
    if len(set(names)) != len(names) and any(p in names for p in nested):
        return "--scheduler-args: a part named twice takes its keys by position (0.gamma=…)"
    unknown = [p for p in nested if p not in names and p not in map(str, range(len(names)))]
    if unknown:
        return f"--scheduler-args {unknown[0]}.…: no such part; the parts are {', '.join(names)}"
    if name == "sequentiallr":
        m = own.get("milestones")
        ok = (
            isinstance(m, tuple)
            and all(isinstance(v, int) and v >= 1 for v in m)
            and len(m) == len(names) - 1
            and list(m) == sorted(set(m))
        )
        if not ok:
            return (f"--scheduler-args milestones={m!r}: give {len(names) - 1} increasing "
                    "epochs ≥ 1, one fewer than the parts")  # fmt: skip
    for part, part_pairs in parts_of(own, nested):
        message = problem(part, part_pairs)
        if message is not None:
            return message.replace("--scheduler-args ", f"--scheduler-args {part}.", 1)
    return None


def schedule_for(name: str, pairs: Pairs, epochs: int | None = None) -> Any:  # noqa: ANN401
    """The hand-written schedule for these (as_pairs-normalised) arguments; OneCycleLR's
    cycle is the run's `epochs` long unless total_steps says otherwise."""
    if name in ("sequentiallr", "chainedscheduler"):
        own, nested = split(pairs)
        parts = tuple(schedule_for(n, p) for n, p in parts_of(own, nested))
        if name == "sequentiallr":
            return SequentialLR(parts, tuple(own["milestones"]))
        return ChainedScheduler(parts)
    schedule = SCHEDULES[name](**dict(pairs))
    if isinstance(schedule, OneCycleLR) and schedule.total_steps is None and epochs is not None:
        schedule = dataclasses.replace(schedule, total_steps=epochs)
    return schedule


def torch_scheduler(schedule: Any, optimizer: Any) -> Any:  # noqa: ANN401
    """torch.optim.lr_scheduler's scheduler on `optimizer` for this hand-written schedule."""
    from torch_impl.compose import COMPOSED
    from torch_impl.cycles import CYCLES
    from torch_impl.schedulers import SCHEDULERS

    name = NAME_OF[type(schedule)]
    if isinstance(schedule, SequentialLR | ChainedScheduler):
        parts = [torch_scheduler(part, optimizer) for part in schedule.schedulers]
        if isinstance(schedule, SequentialLR):
            return COMPOSED[name](optimizer, parts, list(schedule.milestones))
        return COMPOSED[name](parts, optimizer=optimizer)
    return {**SCHEDULERS, **CYCLES}[name](optimizer, **vars(schedule))
