"""Save and load a run as .safetensors: parameters, optimizer state, history and metadata.

The course saves `model.state_dict()` with torch.save and reads it back with torch.load. Here
the same idea needs no torch: safetensors holds raw arrays and a JSON header, nothing
executable, so a checkpoint from a stranger can be opened without running their code.

Layout (shared with torch_impl/checkpoint.py, so either side loads the other's file):
    weight (d,)  bias (1,)
    optimizer.<key>.{weight,bias}   each field of the family's state, named as torch's keys
                                    (optim.STATE_KEYS): momentum_buffer; exp_avg, exp_avg_sq, …;
                                    ASGD's eta, mu and NAdam's mu_product 0-d float32, as torch's
    history.{train_loss,test_loss,bias} (E,)  history.weight (E, d)
    metadata: format, implementation, model, loss, dtype, epoch, optimizer, optimizer.state
              (sgd, adam, …), optimizer.step, config, versions; scheduler (schedule_state.py)
The loader trusts the file: gradcompare checks one from elsewhere first (compare/checkpoints/).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import safetensors.numpy

from manual.optim import STATE_KEYS, STATES, OptimizerState, family_of
from manual.train import History

FORMAT = "gradcompare-checkpoint/1"
PARAM_NAMES = ("weight", "bias")
SCALAR_KEYS = frozenset({"eta", "mu", "mu_product"})  # one float per parameter, not an array
HISTORY_KEYS = ("train_loss", "test_loss", "weight", "bias")


class CheckpointError(ValueError):
    """A checkpoint file is missing, malformed or inconsistent; the message names the file."""


@dataclass(frozen=True)
class Checkpoint:
    """Everything needed to predict with, or resume, a run."""

    weight: np.ndarray  # (d,)
    bias: np.ndarray  # (1,)
    state: OptimizerState  # momentum buffers or Adam moments, and the step count
    history: History  # per-epoch losses and parameters so far
    metadata: dict[str, str]  # implementation, model, loss, dtype, epoch, config, versions


def save(path: str | Path, weight: np.ndarray, bias: np.ndarray, state: OptimizerState,
         history: History, metadata: dict[str, str]) -> None:  # fmt: skip
    """Write a .safetensors checkpoint; `metadata` adds model, loss, config, …"""
    # BEGIN SOLUTION task-10
    tensors = {"weight": np.ascontiguousarray(weight), "bias": np.ascontiguousarray(bias)}
    family = family_of(state)
    for key in STATE_KEYS[family]:
        for name, buf in zip(PARAM_NAMES, getattr(state, key), strict=True):
            if isinstance(buf, float):  # torch keeps these scalars as float32
                tensors[f"optimizer.{key}.{name}"] = np.asarray(buf, dtype=np.float32)
            elif buf is not None:
                tensors[f"optimizer.{key}.{name}"] = np.ascontiguousarray(buf)
    tensors["history.train_loss"] = np.asarray(history.train_loss, dtype=np.float64)
    tensors["history.test_loss"] = np.asarray(history.test_loss, dtype=np.float64)
    tensors["history.weight"] = np.asarray(history.weight, np.float64).reshape(-1, weight.size)
    tensors["history.bias"] = np.asarray(history.bias, dtype=np.float64)
    header = {"format": FORMAT, "implementation": "manual", "dtype": str(weight.dtype),
              "epoch": str(len(history.train_loss)), "optimizer.state": family,
              "optimizer.step": str(state.step), **metadata}  # fmt: skip
    Path(path).write_bytes(safetensors.numpy.save(tensors, metadata=header))
    # END SOLUTION


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The file's arrays and metadata; a file that will not parse is a CheckpointError."""
    # BEGIN SOLUTION task-10
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}  # noqa: SIM118
    except Exception as e:  # any parse failure means a corrupt or truncated file
        raise CheckpointError(f"{path}: not a readable .safetensors file ({e})") from None
    # END SOLUTION


def load(path: str | Path) -> Checkpoint:
    """Read a .safetensors checkpoint written by either implementation."""
    tensors, metadata = read_safetensors(Path(path))
    family = metadata.get("optimizer.state", "sgd")
    buf: dict[str, list[np.ndarray | float | None]] = {}
    for key in STATE_KEYS[family]:
        found = [tensors.get(f"optimizer.{key}.{p}") for p in PARAM_NAMES]
        scalar = key in SCALAR_KEYS  # a 0-d array each, read back as the float it was
        buf[key] = [float(b) if scalar and b is not None else b for b in found]
    step = int(metadata.get("optimizer.step", "0"))
    state: OptimizerState = STATES[family](**buf, step=step)
    history = History()
    if "history.train_loss" in tensors:
        h = {k: tensors[f"history.{k}"] for k in HISTORY_KEYS}
        history = History(h["train_loss"].tolist(), h["test_loss"].tolist(),
                          list(h["weight"]), h["bias"].tolist())  # fmt: skip
    return Checkpoint(tensors["weight"], tensors["bias"], state, history, dict(metadata))
