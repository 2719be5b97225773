"""Checkpoints across the two implementations: .pth converted for manual, shared .safetensors.

Every file is checked by safety.py before either side's loader sees it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

import manual.checkpoint as mck
import manual.train
import torch_impl.train
from compare.checkpoints import safety
from compare.checkpoints import torch_files as tck
from compare.config import RunConfig
from compare.experiment import ManualRun, TorchRun
from compare.files import atomic_save, probe_write, versions
from manual.optim import AdamState, OptimizerState, SGDState

CheckpointErrors = (mck.CheckpointError,)
SUFFIXES = {"manual": (".safetensors",), "torch": (".safetensors", ".pth", ".pt")}


def metadata_for(
    config: RunConfig, overrides: list[dict[str, Any]] | None = None
) -> dict[str, str]:
    """What a checkpoint records about the run that wrote it (and any settings overridden)."""
    meta = {
        "model": config.model,
        "loss": config.loss,
        "optimizer": config.optimizer,
        "config": json.dumps(asdict(config)),
        "versions": versions(),
    }
    if overrides:
        meta["overrides"] = json.dumps(overrides)
    return meta


def steps_per_epoch(config: RunConfig) -> int:
    """Optimizer steps in one epoch: one per mini-batch, the last partial one included."""
    return -(-config.n_train // (config.batch_size or config.n_train))


def check_writable(path: Path, impl: str) -> None:
    """Refuse before training a save that could only fail after it.

    An unknown format, a missing folder, a target that is a folder, a folder we cannot write:
    each found by writing (and removing) the save's own temporary file, which also clears a
    stale one a killed run left behind.
    """
    if path.suffix not in SUFFIXES[impl]:
        raise mck.CheckpointError(
            f"{path}: {impl} checkpoints are {' or '.join(SUFFIXES[impl])} files"
        )
    if not path.parent.is_dir():
        raise mck.CheckpointError(f"{path}: folder {path.parent} does not exist; create it first")
    if path.is_dir():
        raise mck.CheckpointError(f"{path}: is a folder; give a file name inside it")
    try:
        probe_write(path)  # the temporary name both sides' atomic_write uses
    except OSError as e:
        raise mck.CheckpointError(
            f"{path}: cannot write in {path.parent} ({e.strerror}); choose another folder"
        ) from None


def to_manual(ck: tck.Checkpoint) -> mck.Checkpoint:
    """A torch-side checkpoint (from .pth or .safetensors) as the manual side's NumPy arrays."""
    buffers = {
        key: [None if b is None else b.detach().cpu().numpy() for b in bufs]
        for key, bufs in ck.optimizer_state.items()
    }
    step = int(ck.metadata.get("optimizer.step", "0"))
    state: OptimizerState
    if ck.metadata.get("optimizer.state") == "adam" and buffers:
        m, v = buffers["exp_avg"], buffers["exp_avg_sq"]
        state = AdamState(
            [b for b in m if b is not None], [b for b in v if b is not None],
            buffers["max_exp_avg_sq"], step,
        )  # fmt: skip
    else:
        state = SGDState(buffers.get("momentum_buffer", [None, None]), step)
    history = manual.train.History(
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
    """Any checkpoint as NumPy, checked first; manual never imports torch, so .pth is converted."""
    if path.suffix in tck.PTH_SUFFIXES:
        return to_manual(load_torch(path))
    safety.check_safetensors_header(path)  # the file itself, then names and shapes, unread
    ck = mck.load(path)
    arrays = {"weight": ck.weight, "bias": ck.bias, "history.train_loss": ck.history.train_loss}
    arrays |= {"history.test_loss": ck.history.test_loss, "history.bias": ck.history.bias}
    for key in mck.STATE_KEYS["adam" if isinstance(ck.state, AdamState) else "sgd"]:
        for name, buf in zip(mck.PARAM_NAMES, getattr(ck.state, key), strict=True):
            if buf is not None:
                arrays[f"optimizer.{key}.{name}"] = buf
    safety.check_values(path, arrays)
    return ck


def load_torch(path: Path, device: torch.device | str = "cpu") -> tck.Checkpoint:
    """Any checkpoint as tensors on `device`, every tensor checked before use."""
    if path.suffix == ".safetensors":
        safety.check_safetensors_header(path)  # checks the file itself first
    else:
        safety.check_file(path)
        safety.check_pth_container(path)
    return tck.load(path, map_location=device, check=safety.check_torch_tensors)


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


def save_manual(
    path: Path,
    run: ManualRun,
    config: RunConfig,
    before: manual.train.History | None,
    overrides: list[dict[str, Any]] | None = None,
) -> None:
    """Save the manual side, its history continuing `before` when resumed."""
    history = run.history if before is None else _joined(before, run.history)
    meta = metadata_for(config, overrides)
    atomic_save(path, lambda tmp: mck.save(tmp, *run.params, run.state, history, meta))


def save_torch(
    path: Path,
    run: TorchRun,
    config: RunConfig,
    before: manual.train.History | None,
    overrides: list[dict[str, Any]] | None = None,
) -> None:
    """Save the torch side, its history continuing `before` when resumed."""
    history = run.history
    if before is not None:
        joined = _joined(before, run.history)
        history = torch_impl.train.History(
            joined.train_loss, joined.test_loss, [torch.as_tensor(w) for w in joined.weight],
            joined.bias,
        )  # fmt: skip
    meta = metadata_for(config, overrides)
    if config.optimizer == "sgd":  # torch's SGD keeps no step count of its own
        meta["optimizer.step"] = str(len(history.train_loss) * steps_per_epoch(config))
    tck.save(path, run.model, run.optimizer, history, meta)


def _joined(
    before: manual.train.History, now: manual.train.History | torch_impl.train.History
) -> manual.train.History:
    return manual.train.History(
        train_loss=[*before.train_loss, *now.train_loss],
        test_loss=[*before.test_loss, *now.test_loss],
        weight=[*before.weight, *now.weight],
        bias=[*before.bias, *now.bias],
    )
