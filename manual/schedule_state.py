"""What a schedule remembers between runs, under the keys torch's scheduler.state_dict() uses.

Every schedule here is a pure function of t, the scheduler steps taken so far (torch's
`last_epoch`), so resuming one needs that count and little more:
    ReduceLROnPlateau            its PlateauState: best, num_bad_epochs, cooldown_counter, and
                                 the lr it has cut to (_last_lr)
    OneCycleLR                   total_steps: the cycle's length, fixed when it was made
    CosineAnnealingWarmRestarts  T_cur, T_i: where it is, in which cosine
    SequentialLR                 each part's own count: a part runs from its milestone, so
                                 part i has counted (m_i - m_{i-1}) - 1 when the next takes over,
                                 t - m_{i-1} while it runs, and -1 before its turn
    ChainedScheduler             each part counts every step (it keeps no count of its own)
The hyperparameters a schedule rewrites in the optimizer (the lr, and a cycle's momentum or
β1) travel beside it as torch's param_groups[0] entries: `param_group`.
"""

from __future__ import annotations

from dataclasses import fields
from functools import reduce
from typing import Any

from manual.compose import ChainedScheduler, Composed, SequentialLR, composed_lr
from manual.cycles import Cycle, CyclicLR, OneCycleLR, cycle_at, schedule_steps
from manual.optim import Optimizer
from manual.schedulers import (
    CosineAnnealingWarmRestarts,
    PlateauState,
    ReduceLROnPlateau,
    Schedule,
    lr_at,
    plateau_step,
    warm_restart_position,
)

AnySchedule = Schedule | ReduceLROnPlateau | Cycle | Composed
GROUP_KEYS = ("lr", "momentum", "betas")  # what a schedule writes into param_groups


def plateau_after(s: ReduceLROnPlateau, start: PlateauState, metrics: list[float]) -> PlateauState:
    """The plateau's state after watching `metrics`: plateau_step folded over them, as fit does."""
    return reduce(lambda state, m: plateau_step(s, state, m), metrics, start)


def lr_after(schedule: AnySchedule, t: int, base_lr: float, plateau: PlateauState | None) -> float:
    """The lr torch's param_groups hold after t scheduler steps (a cycle's: cycle_at)."""
    if isinstance(schedule, ReduceLROnPlateau):
        assert plateau is not None, "ReduceLROnPlateau's lr is its state's"
        return plateau.lr
    if isinstance(schedule, SequentialLR | ChainedScheduler):
        return composed_lr(schedule, t, base_lr)
    return lr_at(schedule, t, base_lr)  # type: ignore[arg-type]


def param_group(opt: Optimizer) -> dict[str, Any]:
    """The optimizer's hyperparameters a schedule moves, as torch's param_groups[0] has them."""
    names = {f.name for f in fields(opt)}
    return {k: list(v) if k == "betas" else v for k in GROUP_KEYS if k in names
            for v in [getattr(opt, k)]}  # fmt: skip


def group_after(
    schedule: AnySchedule, t: int, opt: Optimizer, plateau: PlateauState | None
) -> dict[str, Any]:
    """param_groups[0]'s scheduled entries after t steps: for a cycle its lr and momentum."""
    if isinstance(schedule, OneCycleLR | CyclicLR):  # its total_steps is set by then
        return param_group(cycle_at(schedule, t, opt, schedule_steps(schedule, t)))
    return param_group(opt) | {"lr": lr_after(schedule, t, opt.lr, plateau)}


def record(
    schedule: AnySchedule, t: int, lr: float, plateau: PlateauState | None = None
) -> dict[str, Any]:
    """torch's scheduler.state_dict() entries that decide the schedule's future, after t steps."""
    if isinstance(schedule, ChainedScheduler):
        return {"_last_lr": [lr], "_schedulers": [_part(p, t) for p in schedule.schedulers]}
    rec: dict[str, Any] = {"last_epoch": t, "_last_lr": [lr]}
    if isinstance(schedule, ReduceLROnPlateau):
        assert plateau is not None, "ReduceLROnPlateau's record is its state"
        rec |= {"best": plateau.best, "num_bad_epochs": plateau.num_bad_epochs,
                "cooldown_counter": plateau.cooldown_counter}  # fmt: skip
    elif isinstance(schedule, OneCycleLR):
        rec["total_steps"] = schedule.total_steps
    elif isinstance(schedule, SequentialLR):
        starts = (0, *schedule.milestones)
        active = sum(m <= t for m in schedule.milestones)
        counts = [
            t - start if i == active else (end - start - 1 if i < active else -1)
            for i, (start, end) in enumerate(zip(starts, (*schedule.milestones, t), strict=True))
        ]
        rec["_schedulers"] = [_part(p, k) for p, k in zip(schedule.schedulers, counts, strict=True)]
    return rec | _part(schedule, t)


def _part(s: AnySchedule, k: int) -> dict[str, Any]:
    """A part's own count k; a warm restart's place too (k = -1: not yet begun, at its start)."""
    if isinstance(s, CosineAnnealingWarmRestarts):
        T_cur, T_i = warm_restart_position(s, max(k, 0))
        return {"last_epoch": k, "T_cur": T_cur, "T_i": T_i}
    return {"last_epoch": k}


def steps_taken(schedule: AnySchedule, rec: dict[str, Any]) -> int:
    """t, from a record: its last_epoch (a ChainedScheduler's parts all share it)."""
    if isinstance(schedule, ChainedScheduler):
        return int(rec["_schedulers"][0]["last_epoch"])
    return int(rec["last_epoch"])


def plateau_of(rec: dict[str, Any]) -> PlateauState:
    """ReduceLROnPlateau's state, from its record."""
    return PlateauState(
        float(rec["_last_lr"][0]),
        float(rec["best"]),
        int(rec["num_bad_epochs"]),
        int(rec["cooldown_counter"]),
    )
