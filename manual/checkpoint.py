"""Save and load a run as .safetensors: parameters, optimizer state, history and metadata.

The course saves `model.state_dict()` with torch.save and reads it back with torch.load. Here
the same idea needs no torch: safetensors holds raw arrays and a JSON header, nothing
executable, so a checkpoint from a stranger can be opened without running their code.

Layout (shared with torch_impl/checkpoint.py, so either side loads the other's file):
    weight (d,)  bias (1,)
    optimizer.<key>.{weight,bias}   key: momentum_buffer (SGD, once momentum ran), or
                                    exp_avg, exp_avg_sq, max_exp_avg_sq (Adam; the last for amsgrad)
    history.{train_loss,test_loss,bias} (E,)  history.weight (E, d)
    metadata: format, implementation, model, loss, dtype, epoch, optimizer, optimizer.state,
              optimizer.step, config, versions
This loader trusts the sizes a file declares; gradcompare checks a file from elsewhere first
(compare/checkpoints/safety.py), before any tensor is read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import safetensors.numpy

from manual.optim import AdamState, OptimizerState, SGDState
from manual.train import History

FORMAT = "gradcompare-checkpoint/1"
PARAM_NAMES = ("weight", "bias")
# Per-parameter optimizer buffers by family, named as torch's optimizer.state[param] keys.
STATE_KEYS: dict[str, tuple[str, ...]] = {
    "sgd": ("momentum_buffer",),
    "adam": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
}
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


def save(
    path: str | Path,
    weight: np.ndarray,
    bias: np.ndarray,
    state: OptimizerState,
    history: History,
    metadata: dict[str, str],
) -> None:
    """Write a .safetensors checkpoint atomically; `metadata` adds model, loss, config, …"""
    path = Path(path)
    # BEGIN SOLUTION task-10
    tensors = {"weight": np.ascontiguousarray(weight), "bias": np.ascontiguousarray(bias)}
    family = "adam" if isinstance(state, AdamState) else "sgd"
    for key in STATE_KEYS[family]:
        for name, buf in zip(PARAM_NAMES, getattr(state, key), strict=True):
            if buf is not None:
                tensors[f"optimizer.{key}.{name}"] = np.ascontiguousarray(buf)
    d = weight.size
    tensors["history.train_loss"] = np.asarray(history.train_loss, dtype=np.float64)
    tensors["history.test_loss"] = np.asarray(history.test_loss, dtype=np.float64)
    tensors["history.weight"] = np.asarray(history.weight, dtype=np.float64).reshape(-1, d)
    tensors["history.bias"] = np.asarray(history.bias, dtype=np.float64)
    header = {
        "format": FORMAT,
        "implementation": "manual",
        "dtype": str(weight.dtype),
        "epoch": str(len(history.train_loss)),
        "optimizer.state": family,
        "optimizer.step": str(state.step),
        "versions": versions(),
        **metadata,
    }
    atomic_write(path, safetensors.numpy.save(tensors, metadata=header))
    # END SOLUTION


def load(path: str | Path) -> Checkpoint:
    """Read a .safetensors checkpoint written by either implementation."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(
            f"{path}: manual/ reads .safetensors files (gradcompare converts .pth for it)"
        )
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a gradcompare checkpoint (format {metadata.get('format')!r})"
        )
    return from_tensors(path, tensors, metadata)


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse the file without trusting it: any failure becomes a CheckpointError."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    # BEGIN SOLUTION task-10
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}  # noqa: SIM118
    except Exception as e:  # any parse failure means a corrupt or truncated file
        raise CheckpointError(f"{path}: not a readable .safetensors file ({e})") from None
    # END SOLUTION


def from_tensors(
    path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]
) -> Checkpoint:
    """The layout's arrays as a Checkpoint; `path` is only for error messages."""
    if {"weight", "bias"} - tensors.keys():
        raise CheckpointError(f"{path}: needs tensors 'weight' and 'bias'")
    weight, bias = tensors["weight"], tensors["bias"]
    family = metadata.get("optimizer.state", "sgd")
    if family not in STATE_KEYS:
        raise CheckpointError(f"{path}: unknown optimizer state {family!r}; expected sgd or adam")
    try:
        step = int(metadata.get("optimizer.step", "0"))
    except ValueError:
        raise CheckpointError(f"{path}: optimizer.step is not a whole number") from None
    buffers = {
        key: [tensors.get(f"optimizer.{key}.{name}") for name in PARAM_NAMES]
        for key in STATE_KEYS[family]
    }
    state: OptimizerState
    if family == "adam":
        m, v = buffers["exp_avg"], buffers["exp_avg_sq"]
        if any(b is None for b in (*m, *v)):
            raise CheckpointError(f"{path}: the Adam state lacks its moment estimates")
        state = AdamState(
            [b for b in m if b is not None],
            [b for b in v if b is not None],
            buffers["max_exp_avg_sq"],
            step,
        )
    else:
        state = SGDState(buffers["momentum_buffer"], step)
    history = History()
    if "history.train_loss" in tensors:
        if any(f"history.{k}" not in tensors for k in ("test_loss", "weight", "bias")):
            raise CheckpointError(f"{path}: the history is incomplete")
        history = History(
            train_loss=tensors["history.train_loss"].tolist(),
            test_loss=tensors["history.test_loss"].tolist(),
            weight=list(tensors["history.weight"]),
            bias=tensors["history.bias"].tolist(),
        )
    return Checkpoint(weight, bias, state, history, dict(metadata))


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a crash leaves the old file whole.

    The temporary name, .NAME.gradcompare-tmp, is recognisable; a stale one left by a killed
    run is removed by the next save to the same path.
    """
    tmp = path.with_name(f".{path.name}.gradcompare-tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno is not None:
            e.filename = str(path)  # the user's path, never the temporary one, even on ENOSPC
        raise


def versions() -> str:
    """Package versions, as JSON, so a file says what wrote it."""
    found = {}
    for name in ("gradcompare", "numpy", "safetensors", "torch"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return json.dumps(found)
