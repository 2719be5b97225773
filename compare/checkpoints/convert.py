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
from compare.checkpoints.schedule import manual_meta
from compare.config import RunConfig
from compare.experiment import ManualRun, TorchRun, optimizer_options
from compare.files import atomic_save, probe_write, versions
from manual.optim import STATE_KEYS, STATES, OptimizerState, family_of, init_state

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
    family = ck.metadata.get("optimizer.state", "sgd")
    buffers: dict[str, list[Any]] = {}
    for key in STATE_KEYS[family]:
        bufs = ck.optimizer_state.get(key, [None, None])
        scalar = key in mck.SCALAR_KEYS  # a 0-d tensor each, as the float the manual side keeps
        buffers[key] = [
            None if b is None else float(b) if scalar else b.detach().cpu().numpy() for b in bufs
        ]
    step = int(ck.metadata.get("optimizer.step", "0"))
    state: OptimizerState = STATES[family](**buffers, step=step)
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
    for key in STATE_KEYS[family_of(ck.state)]:
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
    path: Path,
    weight_size: int,
    dtype: str,
    metadata: dict[str, str],
    config: RunConfig,
    present: set[str] | None = None,
) -> None:
    """The checkpoint must fit the run: same feature count, dtype and optimizer family, and
    the state entries the run's options keep (`present`: those the file holds).

    A file without optimizer state (the course's bare state_dict) fits any optimizer.
    """
    family = metadata.get("optimizer.state")
    wanted = family_of_run(config)
    if family is not None and family != wanted:
        hint = metadata.get("optimizer", family) if family == "adam" else family
        raise mck.CheckpointError(
            f"{path}: holds {family} optimizer state; pass --optimizer {hint}"
        )
    if family is not None and family != "sgd" and present:
        zeros = (np.zeros(config.features), np.zeros(1))
        fresh = init_state(optimizer_options(config), zeros)
        for key in STATE_KEYS[family]:
            if (getattr(fresh, key)[0] is not None) != (key in present):
                how = "lacks" if key not in present else "holds"
                raise mck.CheckpointError(
                    f"{path}: its {family} state {how} {key}, so it was trained with other "
                    "--optim-args than this run's"
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
    meta = metadata_for(config, overrides) | manual_meta(config, run)
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
    tck.save(path, run.model, run.optimizer, history, meta, run.scheduler)


def family_of_run(config: RunConfig) -> str:
    """The optimizer family whose state the run keeps: Adam's for adam and adamw."""
    return "adam" if config.optimizer in ("adam", "adamw") else config.optimizer


def state_entries(state: OptimizerState) -> set[str]:
    """The state entries a loaded manual state holds (set for either parameter)."""
    keys = STATE_KEYS[family_of(state)]
    return {k for k in keys if any(b is not None for b in getattr(state, k))}


def _joined(
    before: manual.train.History, now: manual.train.History | torch_impl.train.History
) -> manual.train.History:
    return manual.train.History(
        train_loss=[*before.train_loss, *now.train_loss],
        test_loss=[*before.test_loss, *now.test_loss],
        weight=[*before.weight, *now.weight],
        bias=[*before.bias, *now.bias],
    )
