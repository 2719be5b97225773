"""Train one implementation on its own, optionally resuming from a checkpoint and saving one."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import manual.checkpoint as mck
from compare.checkpoints import torch_files as tck
from compare.checkpoints.convert import (
    check_compatible,
    check_writable,
    load_manual,
    load_torch,
    save_manual,
    save_torch,
    state_entries,
    to_manual,
)
from compare.checkpoints.resume import resumed_config
from compare.checkpoints.schedule import Continued, continued
from compare.config import RunConfig
from compare.experiment import (
    FRESH,
    ScheduleStart,
    Trajectory,
    initial_model,
    make_data,
    make_torch_optimizer,
    make_torch_scheduler,
    schedule_of,
    start_of,
    train_manual,
    train_torch,
)
from manual.data import Split
from manual.model import forward
from torch_impl.data import to_tensor
from torch_impl.device import resolve_device
from torch_impl.model import MODELS
from torch_impl.train import predict as predict_with


@dataclass(frozen=True)
class SingleRun:
    """One implementation's epochs from this invocation."""

    impl: str  # manual | torch
    first_epoch: int  # epochs already behind the start (0 unless resumed)
    trajectory: Trajectory  # this invocation's epochs only


def train_single(
    config: RunConfig,
    impl: str,
    resume: Path | None = None,
    save: Path | None = None,
    given: frozenset[str] | None = None,
    overrides: frozenset[str] = frozenset(),
    on_start: Callable[[RunConfig], None] | None = None,
) -> SingleRun:
    """Train `impl` for config.epochs more epochs; resume and save are checkpoint paths.

    On resume the checkpoint's recorded settings win (resume.py): `given` names the settings
    the caller chose (None: all), `overrides` those it may change (only lr). on_start gets the
    settings that will train, just before training starts (the CLI prints its header).
    """
    if save is not None:
        check_writable(save, impl)
    if resume is None:
        split = make_data(config)
        model = initial_model(config, resolve_device(config.device))
        if on_start is not None:
            on_start(config)
        if impl == "manual":
            return _train_manual(config, split, model, None, save)
        return _train_torch(config, split, model, None, save)
    device = resolve_device(config.device)
    checkpoint = load_manual(resume) if impl == "manual" else load_torch(resume, device)
    config, changed = resumed_config(resume, checkpoint.metadata, config, given, overrides)
    split = make_data(config)
    model = initial_model(config, device)
    resumed = Resumed(resume, checkpoint, _overrides(checkpoint.metadata, changed))
    if on_start is not None:
        on_start(config)
    if impl == "manual":
        return _train_manual(config, split, model, resumed, save)
    return _train_torch(config, split, model, resumed, save)


@dataclass(frozen=True)
class Resumed:
    """A checkpoint being continued, and the overrides its history now carries."""

    path: Path  # for messages
    checkpoint: mck.Checkpoint | tck.Checkpoint  # as loaded for this side
    overrides: list[dict[str, Any]]  # every override so far, this one last


def _overrides(
    metadata: dict[str, str], changed: dict[str, tuple[Any, Any]]
) -> list[dict[str, Any]]:
    before = json.loads(metadata.get("overrides", "[]"))
    epoch = int(metadata.get("epoch", "0"))
    return [*before, *({"epoch": epoch, "setting": k, "was": was, "now": now}
                       for k, (was, now) in changed.items())]  # fmt: skip


def _train_manual(
    config: RunConfig,
    split: Split,
    model: torch.nn.Module,
    resumed: Resumed | None,
    save: Path | None,
) -> SingleRun:
    start, state, before, overrides = start_of(model), None, None, []
    schedule_start = FRESH
    if resumed is not None:
        ck = resumed.checkpoint
        assert isinstance(ck, mck.Checkpoint)
        present = state_entries(ck.state)
        dtype = str(ck.weight.dtype)
        check_compatible(resumed.path, ck.weight.size, dtype, ck.metadata, config, present)
        start, before, overrides = (ck.weight, ck.bias), ck.history, resumed.overrides
        # No optimizer state in the file (the course's state_dict): start the optimizer fresh.
        fresh = "optimizer.state" not in ck.metadata or not (present or config.optimizer == "sgd")
        state = None if fresh else ck.state
        schedule_start = _schedule_start(resumed.path, ck.metadata, config, len(before.train_loss))
    first = len(before.train_loss) if before else 0
    run = train_manual(
        config, split, start, state, epoch_offset=first, schedule_start=schedule_start
    )
    if save is not None:
        save_manual(save, run, config, before, overrides)
    return SingleRun("manual", first, Trajectory.from_history(run.history))


def _train_torch(
    config: RunConfig,
    split: Split,
    model: torch.nn.Module,
    resumed: Resumed | None,
    save: Path | None,
) -> SingleRun:
    optimizer, scheduler, before, overrides = None, None, None, []
    if resumed is not None:
        ck = resumed.checkpoint
        assert isinstance(ck, tck.Checkpoint)
        dtype = str(ck.weight.dtype).removeprefix("torch.")
        as_manual = to_manual(ck)
        present = state_entries(as_manual.state)
        check_compatible(resumed.path, ck.weight.numel(), dtype, ck.metadata, config, present)
        before, overrides = as_manual.history, resumed.overrides
        went_on = _continued(resumed.path, ck.metadata, config, len(before.train_loss))
        optimizer = make_torch_optimizer(config, model)
        tck.restore(model, ck, optimizer)
        scheduler = make_torch_scheduler(config, optimizer)  # made afresh, then continued
        if went_on is not None and scheduler is not None:
            tck.restore_scheduler(scheduler, optimizer, went_on.record, went_on.group)
    first = len(before.train_loss) if before else 0
    run = train_torch(config, split, model, optimizer, epoch_offset=first, scheduler=scheduler)
    if save is not None:
        save_torch(save, run, config, before, overrides)
    return SingleRun("torch", first, Trajectory.from_history(run.history))


def _continued(
    path: Path, metadata: dict[str, str], config: RunConfig, epochs_done: int
) -> Continued | None:
    """The checkpoint's schedule, checked, for a run with a --scheduler; else None."""
    if config.scheduler is None:
        return None
    return continued(path, metadata, config, schedule_of(config), epochs_done)


def _schedule_start(
    path: Path, metadata: dict[str, str], config: RunConfig, epochs_done: int
) -> ScheduleStart:
    went_on = _continued(path, metadata, config, epochs_done)
    return FRESH if went_on is None else went_on.start


def predict(path: Path, impl: str | None, xs: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Load any checkpoint and predict ŷ for `xs` (flat, d values per row); returns (X, ŷ)."""
    if impl is None:
        impl = "torch" if path.suffix in (".pth", ".pt") else "manual"
    if impl == "manual":
        mine = load_manual(path)
        X = _rows(path, xs, mine.weight.size, str(mine.weight.dtype))
        with np.errstate(over="ignore", invalid="ignore"):
            preds = forward(X.astype(mine.weight.dtype), mine.weight, mine.bias)[:, 0]
        return X, _finite(preds, str(mine.weight.dtype))
    ck = load_torch(path)
    dtype = str(ck.weight.dtype).removeprefix("torch.")
    X = _rows(path, xs, ck.weight.numel(), dtype)
    model = MODELS[ck.metadata.get("model", "parameter")](
        features=ck.weight.numel(), dtype=ck.weight.dtype
    )
    tck.restore(model, ck)
    out = predict_with(model, to_tensor(X.astype(dtype)))
    return X, _finite(out[:, 0].numpy(), dtype)


def _rows(path: Path, xs: list[float], d: int, dtype: str) -> np.ndarray:
    """--x as rows of d values, each finite in the model's dtype."""
    with np.errstate(over="ignore"):
        cast = np.asarray(xs, dtype=np.float64).astype(dtype)
    if not np.all(np.isfinite(cast)):
        raise mck.CheckpointError(
            f"--x holds NaN or infinity, or a value beyond the model's {dtype}; give finite "
            f"numbers within ±{float(np.finfo(dtype).max):.3g}"
        )
    if len(xs) % d:
        raise mck.CheckpointError(
            f"{path}: the model takes {d} feature(s) per point but --x gave {len(xs)} value(s); "
            f"give a multiple of {d}"
        )
    return np.asarray(xs, dtype=np.float64).reshape(-1, d)


def _finite(preds: np.ndarray, dtype: str) -> np.ndarray:
    """Predictions, unless one overflowed the model's dtype (JSON has no -Infinity)."""
    if not np.all(np.isfinite(preds)):
        raise mck.CheckpointError(
            f"a prediction overflows {dtype}: give smaller --x values for this model"
        )
    return preds
