"""Checkpoints across the two implementations: .pth converted for manual, shared .safetensors."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

import manual.checkpoint as mck
import torch_impl.checkpoint as tck
from compare.config import RunConfig
from compare.experiment import ManualRun, TorchRun
from manual.optim import AdamState, OptimizerState, SGDState
from manual.train import History

CheckpointErrors = (mck.CheckpointError, tck.CheckpointError)
SUFFIXES = {"manual": (".safetensors",), "torch": (".safetensors", ".pth", ".pt")}


def metadata_for(config: RunConfig) -> dict[str, str]:
    """What a checkpoint records about the run that wrote it."""
    return {
        "model": config.model,
        "loss": config.loss,
        "optimizer": config.optimizer,
        "config": json.dumps(asdict(config)),
    }


def steps_per_epoch(config: RunConfig) -> int:
    """Optimizer steps in one epoch: one per mini-batch, the last partial one included."""
    return -(-config.n_train // (config.batch_size or config.n_train))


def check_writable(path: Path, impl: str) -> None:
    """Refuse up front a save that could only fail later: unknown format or missing folder."""
    if path.suffix not in SUFFIXES[impl]:
        raise mck.CheckpointError(
            f"{path}: {impl} checkpoints are {' or '.join(SUFFIXES[impl])} files"
        )
    if not path.parent.is_dir():
        raise mck.CheckpointError(f"{path}: folder {path.parent} does not exist; create it first")


def to_manual(ck: tck.Checkpoint) -> mck.Checkpoint:
    """A torch-side checkpoint (from .pth or .safetensors) as the manual side's NumPy arrays."""
    buffers = {
        key: [None if b is None else b.detach().cpu().numpy() for b in bufs]
        for key, bufs in ck.optimizer_state.items()
    }
    step = int(ck.metadata.get("optimizer.step", "0"))
    if ck.metadata.get("optimizer.state") == "adam":
        state: OptimizerState = AdamState(**buffers, step=step)
    else:
        state = SGDState(buffers.get("momentum_buffer", [None, None]), step)
    history = History(
        train_loss=list(ck.history.train_loss),
        test_loss=list(ck.history.test_loss),
        weight=[np.asarray(w) for w in ck.history.weight],
        bias=list(ck.history.bias),
    )
    return mck.Checkpoint(
        weight=ck.weight.detach().cpu().numpy(),
        bias=ck.bias.detach().cpu().numpy(),
        state=state,
        history=history,
        metadata=ck.metadata,
    )


def load_manual(path: Path) -> mck.Checkpoint:
    """Any checkpoint as NumPy; manual never imports torch, so .pth is converted here."""
    if path.suffix in (".pth", ".pt"):
        return to_manual(tck.load(path, map_location="cpu"))
    return mck.load(path)


def load_torch(path: Path, device: torch.device | str = "cpu") -> tck.Checkpoint:
    """Any checkpoint as tensors on `device`."""
    return tck.load(path, map_location=device)


def check_compatible(
    path: Path, weight_size: int, dtype: str, metadata: dict[str, str], config: RunConfig
) -> None:
    """The checkpoint must fit the run: same feature count, dtype and optimizer family.

    A file without optimizer state (the course's bare state_dict) fits any optimizer.
    """
    family = metadata.get("optimizer.state")
    wanted = "sgd" if config.optimizer == "sgd" else "adam"
    if family is not None and family != wanted:
        hint = "sgd" if family == "sgd" else metadata.get("optimizer", "adam")
        raise mck.CheckpointError(
            f"{path}: holds {family} optimizer state; pass --optimizer {hint}"
        )
    if weight_size != config.features:
        raise mck.CheckpointError(
            f"{path}: has {weight_size} feature(s) but the run has {config.features}; "
            f"pass --features {weight_size}"
        )
    if dtype != config.dtype:
        raise mck.CheckpointError(f"{path}: holds {dtype} parameters; pass --dtype {dtype}")


def save_manual(path: Path, run: ManualRun, config: RunConfig, before: History | None) -> None:
    """Save the manual side, its history continuing `before` when resumed."""
    history = _joined(before, run.history)
    mck.save(path, *run.params, run.state, history, metadata_for(config))


def save_torch(path: Path, run: TorchRun, config: RunConfig, before: History | None) -> None:
    """Save the torch side, its history continuing `before` when resumed."""
    history = _joined(before, run.history)
    meta = metadata_for(config)
    if config.optimizer == "sgd":  # torch's SGD keeps no step count of its own
        meta["optimizer.step"] = str(len(history.train_loss) * steps_per_epoch(config))
    tck.save(path, run.model, run.optimizer, history, meta)


def _joined(before: History | None, now: History) -> History:
    if before is None:
        return now
    return type(now)(
        train_loss=[*before.train_loss, *now.train_loss],
        test_loss=[*before.test_loss, *now.test_loss],
        weight=[*before.weight, *now.weight],
        bias=[*before.bias, *now.bias],
    )
