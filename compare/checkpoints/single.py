"""Train one implementation on its own, optionally resuming from a checkpoint and saving one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import torch_impl.checkpoint as tck
from compare.checkpoints.convert import (
    check_compatible,
    check_writable,
    load_manual,
    load_torch,
    save_manual,
    save_torch,
    to_manual,
)
from compare.config import RunConfig
from compare.experiment import (
    Trajectory,
    initial_model,
    make_data,
    make_torch_optimizer,
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
    config: RunConfig, impl: str, resume: Path | None = None, save: Path | None = None
) -> SingleRun:
    """Train `impl` for config.epochs more epochs; resume and save are checkpoint paths."""
    if save is not None:
        check_writable(save, impl)
    split = make_data(config)
    model = initial_model(config, resolve_device(config.device))
    if impl == "manual":
        return _train_manual(config, split, model, resume, save)
    return _train_torch(config, split, model, resume, save)


def _train_manual(
    config: RunConfig, split: Split, model: torch.nn.Module, resume: Path | None, save: Path | None
) -> SingleRun:
    start, state, before = start_of(model), None, None
    if resume is not None:
        ck = load_manual(resume)
        check_compatible(resume, ck.weight.size, str(ck.weight.dtype), ck.metadata, config)
        start, before = (ck.weight, ck.bias), ck.history
        # No optimizer state in the file (the course's state_dict): start the optimizer fresh.
        state = ck.state if "optimizer.state" in ck.metadata else None
    first = len(before.train_loss) if before else 0
    run = train_manual(config, split, start, state, epoch_offset=first)
    if save is not None:
        save_manual(save, run, config, before)
    return SingleRun("manual", first, Trajectory.from_history(run.history))


def _train_torch(
    config: RunConfig, split: Split, model: torch.nn.Module, resume: Path | None, save: Path | None
) -> SingleRun:
    optimizer, before = None, None
    if resume is not None:
        ck = load_torch(resume, next(model.parameters()).device)
        dtype = str(ck.weight.dtype).removeprefix("torch.")
        check_compatible(resume, ck.weight.numel(), dtype, ck.metadata, config)
        optimizer = make_torch_optimizer(config, model)
        tck.restore(model, ck, optimizer)
        before = to_manual(ck).history
    first = len(before.train_loss) if before else 0
    run = train_torch(config, split, model, optimizer, epoch_offset=first)
    if save is not None:
        save_torch(save, run, config, before)
    return SingleRun("torch", first, Trajectory.from_history(run.history))


def predict(path: Path, impl: str | None, xs: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Load any checkpoint and predict ŷ for `xs` (flat, d values per row); returns (X, ŷ)."""
    if impl is None:
        impl = "torch" if path.suffix in (".pth", ".pt") else "manual"
    if impl == "manual":
        mine = load_manual(path)
        X = _rows(path, xs, mine.weight.size).astype(mine.weight.dtype)
        return X, forward(X, mine.weight, mine.bias)[:, 0]
    ck = load_torch(path)
    X = _rows(path, xs, ck.weight.numel())
    model = MODELS[ck.metadata.get("model", "parameter")](
        features=ck.weight.numel(), dtype=ck.weight.dtype
    )
    tck.restore(model, ck)
    preds = predict_with(model, to_tensor(X.astype(str(ck.weight.dtype).removeprefix("torch."))))
    return X, preds[:, 0].numpy()


def _rows(path: Path, xs: list[float], d: int) -> np.ndarray:
    if not np.all(np.isfinite(xs)):
        raise tck.CheckpointError("--x holds NaN or infinity; give finite numbers")
    if len(xs) % d:
        raise tck.CheckpointError(
            f"{path}: the model takes {d} feature(s) per point but --x gave {len(xs)} value(s); "
            f"give a multiple of {d}"
        )
    return np.asarray(xs, dtype=np.float64).reshape(-1, d)
