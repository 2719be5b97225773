"""A run's schedule in a checkpoint: written by either side, read back by either, checked first.

The record is torch's scheduler.state_dict(): the torch side writes all of it, the manual side
the entries manual/schedule_state.py names (the ones that decide what comes next). Only those
entries are ever read, each checked against the shape the run's own schedule gives them, so a
file from elsewhere can set nothing else on a scheduler. Beside it, the lr (and a cycle's
momentum or betas) that the schedule wrote into param_groups[0].
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import manual.schedule_state as ss
from compare.config import CYCLES, RunConfig
from compare.experiment import ManualRun, ScheduleStart, optimizer_options, schedule_of
from manual.checkpoint import CheckpointError
from manual.cycles import OneCycleLR
from manual.schedulers import ReduceLROnPlateau, plateau_init

MAX_COUNT = 10**12  # steps or epochs: more than any run here could take


@dataclass(frozen=True)
class Continued:
    """Where a resumed schedule stands, read from a checkpoint and checked."""

    start: ScheduleStart  # its steps, plateau and cycle length, for the manual side
    record: dict[str, Any]  # the entries that decide what comes next, in torch's keys
    group: dict[str, Any]  # what the schedule had written in param_groups[0]: lr, …


def steps_per_epoch(config: RunConfig) -> int:
    """Scheduler steps in one epoch: one per batch for a cycle stepped per batch, else one."""
    return config.scheduler_steps // config.epochs


def template(schedule: Any) -> dict[str, Any]:  # noqa: ANN401
    """The record's shape for this schedule: its entries, with a value of each one's type."""
    if isinstance(schedule, OneCycleLR):
        schedule = replace(schedule, total_steps=1)
    plateau = plateau_init(schedule, 1.0) if isinstance(schedule, ReduceLROnPlateau) else None
    return ss.record(schedule, 0, 1.0, plateau)


def continued(
    path: Path,
    metadata: dict[str, str],
    config: RunConfig,
    schedule: Any,  # noqa: ANN401  # the run's own hand-written schedule
    epochs_done: int,  # epochs in the checkpoint's history
) -> Continued | None:
    """The checkpoint's schedule, if it has one; None for a file that never had one."""
    if "scheduler" not in metadata:
        if "config" in metadata:  # ours, and trained with this schedule: its state is missing
            raise CheckpointError(f"{path}: holds no scheduler state to continue")
        return None  # the course's bare state_dict: the schedule starts now
    try:
        raw, groups = (
            json.loads(metadata["scheduler"]),
            json.loads(metadata.get("optimizer.param_groups", "[]")),
        )
    except ValueError:
        raise CheckpointError(f"{path}: its scheduler state is not JSON") from None
    record = _like(path, "scheduler", template(schedule), raw)
    if not isinstance(groups, list) or not groups or not isinstance(groups[0], dict):
        raise CheckpointError(f"{path}: optimizer.param_groups is not a list of one group")
    group = _group(path, groups[0], config)
    steps = ss.steps_taken(schedule, record)
    if steps != epochs_done * steps_per_epoch(config) and epochs_done:
        raise CheckpointError(
            f"{path}: its scheduler has taken {steps:,} steps but its history holds "
            f"{epochs_done:,} epoch(s) of {steps_per_epoch(config)}; the file is inconsistent"
        )
    taken = int(metadata.get("optimizer.step", "0"))
    if config.cycle_per_batch and taken != steps:
        raise CheckpointError(
            f"{path}: its cycle has taken {steps:,} steps but its optimizer {taken:,}; a cycle "
            "stepped per batch takes one with each; the file is inconsistent"
        )
    plateau = ss.plateau_of(record) if isinstance(schedule, ReduceLROnPlateau) else None
    if plateau is not None and plateau.lr != group["lr"]:
        raise CheckpointError(f"{path}: its plateau's lr and its optimizer's lr differ")
    total = record.get("total_steps") if isinstance(schedule, OneCycleLR) else None
    if total is not None:
        needed, left = config.scheduler_steps, total - steps
        if needed > left:
            more = left // steps_per_epoch(config)
            how = f"pass --epochs {more:,} or fewer" if more else "start a new run instead"
            raise CheckpointError(
                f"{path}: its OneCycleLR has {left:,} of its {total:,} steps left and this run "
                f"needs {needed:,}; {how}"
            )
    return Continued(ScheduleStart(steps, plateau, total), record, group)


def _group(path: Path, raw: dict[str, Any], config: RunConfig) -> dict[str, Any]:
    """lr, and the momentum or betas a cycle moves: finite numbers, checked one by one."""
    wanted = ["lr"]
    if config.scheduler in CYCLES:
        wanted += [k for k in ("momentum", "betas") if k in raw]
    out: dict[str, Any] = {}
    for key in wanted:
        if key not in raw:
            raise CheckpointError(f"{path}: optimizer.param_groups has no {key}")
        value = raw[key]
        values = value if key == "betas" else [value]
        if not (
            isinstance(values, list)
            and len(values) == (2 if key == "betas" else 1)
            and all(_number(v) and math.isfinite(v) and v >= 0 for v in values)
        ):
            raise CheckpointError(
                f"{path}: optimizer.param_groups {key} is {str(value)[:40]}; expected "
                + ("two numbers" if key == "betas" else "a number ≥ 0")
            )
        out[key] = [float(v) for v in values] if key == "betas" else float(value)
    return out


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _like(path: Path, where: str, want: object, got: object) -> Any:  # noqa: ANN401
    """`got`, where it has want's shape: the same keys and list lengths, numbers for numbers."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            raise CheckpointError(f"{path}: {where} is not an object")
        missing = [k for k in want if k not in got]
        if missing:
            raise CheckpointError(f"{path}: {where} has no {missing[0]}")
        return {k: _like(path, f"{where}.{k}", v, got[k]) for k, v in want.items()}
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            raise CheckpointError(f"{path}: {where} is not a list of {len(want)}")
        return [
            _like(path, f"{where}[{i}]", w, g)
            for i, (w, g) in enumerate(zip(want, got, strict=True))
        ]
    if isinstance(want, int) and not isinstance(want, bool):
        if not (isinstance(got, int) and not isinstance(got, bool) and -1 <= got <= MAX_COUNT):
            raise CheckpointError(
                f"{path}: {where} is {str(got)[:40]}; expected a whole number from -1 to "
                f"{MAX_COUNT:,}"
            )
        if where.endswith(("total_steps", "T_i")) and got < 1:
            raise CheckpointError(f"{path}: {where} is {got}; expected at least 1")
        return got
    infinite_ok = where.endswith(".best")  # the best metric starts at ±inf
    if not isinstance(got, int | float) or isinstance(got, bool) or math.isnan(got):
        raise CheckpointError(f"{path}: {where} is {str(got)[:40]}; expected a number")
    if not (infinite_ok or math.isfinite(got)):
        raise CheckpointError(f"{path}: {where} is {got}; expected a finite number")
    return float(got)


def manual_meta(config: RunConfig, run: ManualRun) -> dict[str, str]:
    """The manual side's schedule after `run`, as metadata: its record and param_groups[0]."""
    start = run.schedule_start
    schedule = schedule_of(config, start.total)
    if schedule is None:
        return {}
    t = start.steps + len(run.history.train_loss) * steps_per_epoch(config)
    plateau = None
    if isinstance(schedule, ReduceLROnPlateau):
        first = start.plateau or plateau_init(schedule, config.lr)
        plateau = ss.plateau_after(schedule, first, run.history.test_loss)
    group = ss.group_after(schedule, t, optimizer_options(config), plateau)
    record = ss.record(schedule, t, group["lr"], plateau)
    return {"scheduler": json.dumps(record), "optimizer.param_groups": json.dumps([group])}
