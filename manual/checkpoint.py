"""Save and load a run as .safetensors: parameters, optimizer state, history and metadata.

safetensors holds raw arrays and a JSON header, nothing executable, so a checkpoint from a
stranger can be opened without running their code (unlike a pickle).

Layout (shared with torch_impl/checkpoint.py, so either side loads the other's file):
    weight (d,)  bias (1,)
    optimizer.<key>.{weight,bias}   key: momentum_buffer (SGD, once momentum ran), or
                                    exp_avg, exp_avg_sq, max_exp_avg_sq (Adam; the last for amsgrad)
    history.{train_loss,test_loss,bias} (E,)  history.weight (E, d)
    metadata: format, implementation, model, loss, dtype, epoch, optimizer, optimizer.state,
              optimizer.step, config, versions
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import safetensors.numpy

from manual.optim import AdamState, OptimizerState, SGDState
from manual.train import History

FORMAT = "gradcompare-checkpoint/1"
PARAM_DTYPES = ("float32", "float64")
PARAM_NAMES = ("weight", "bias")
# Per-parameter optimizer buffers, named as torch's optimizer.state[param] keys.
STATE_KEYS: dict[type, tuple[str, ...]] = {
    SGDState: ("momentum_buffer",),
    AdamState: ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
}
STATE_KINDS: dict[type, str] = {SGDState: "sgd", AdamState: "adam"}
LAYOUT_KEYS = {
    *PARAM_NAMES,
    *(f"optimizer.{k}.{p}" for keys in STATE_KEYS.values() for k in keys for p in PARAM_NAMES),
    *(f"history.{k}" for k in ("train_loss", "test_loss", "weight", "bias")),
}


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


def versions() -> str:
    """Package versions, as JSON, so a file says what wrote it."""
    found = {}
    for name in ("gradcompare", "numpy", "safetensors", "torch"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return json.dumps(found)


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a crash leaves the old file whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the checkpoint from everyone else
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    for key in STATE_KEYS[type(state)]:
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
        "optimizer.state": STATE_KINDS[type(state)],
        "optimizer.step": str(state.step),
        "versions": versions(),
        **metadata,
    }
    atomic_write(path, safetensors.numpy.save(tensors, metadata=header))
    # END SOLUTION


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


def load(path: str | Path) -> Checkpoint:
    """Read and check a .safetensors checkpoint written by either implementation."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: unknown checkpoint format; manual reads .safetensors files")
    tensors, metadata = read_safetensors(path)
    return from_tensors(path, tensors, metadata)


def from_tensors(
    path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]
) -> Checkpoint:
    """Validate the layout and build a Checkpoint; `path` is only for error messages."""
    if metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a gradcompare checkpoint (format {metadata.get('format')!r})"
        )
    missing = {"weight", "bias"} - tensors.keys()
    if missing:
        raise CheckpointError(f"{path}: missing tensors {sorted(missing)}")
    unexpected = tensors.keys() - LAYOUT_KEYS
    if unexpected:
        raise CheckpointError(f"{path}: unexpected tensors {sorted(unexpected)}")
    weight, bias = tensors["weight"], tensors["bias"]
    if weight.ndim != 1 or weight.size < 1 or bias.shape != (1,):
        raise CheckpointError(
            f"{path}: weight must be (d,) and bias (1,), got {weight.shape} and {bias.shape}"
        )
    if str(weight.dtype) not in PARAM_DTYPES or bias.dtype != weight.dtype:
        raise CheckpointError(
            f"{path}: parameters must both be float32 or float64, got {weight.dtype}, {bias.dtype}"
        )
    if not (np.all(np.isfinite(weight)) and np.all(np.isfinite(bias))):
        raise CheckpointError(f"{path}: a parameter is NaN or infinite")
    history = _history(path, tensors, weight.size)
    state = _optimizer_state(path, tensors, metadata, (weight, bias))
    return Checkpoint(weight, bias, state, history, dict(metadata))


def _optimizer_state(
    path: Path,
    tensors: dict[str, np.ndarray],
    metadata: dict[str, str],
    params: tuple[np.ndarray, np.ndarray],
) -> OptimizerState:
    kind = metadata.get("optimizer.state", "sgd")
    cls = next((c for c, k in STATE_KINDS.items() if k == kind), None)
    if cls is None:
        raise CheckpointError(f"{path}: unknown optimizer state {kind!r}")
    try:
        step = int(metadata.get("optimizer.step", "0"))
    except ValueError:
        raise CheckpointError(f"{path}: optimizer.step is not an integer") from None
    lists = {}
    for key in STATE_KEYS[cls]:
        lists[key] = [tensors.get(f"optimizer.{key}.{name}") for name in PARAM_NAMES]
        for buf, like, name in zip(lists[key], params, PARAM_NAMES, strict=True):
            if buf is not None and (buf.shape != like.shape or buf.dtype != like.dtype):
                raise CheckpointError(
                    f"{path}: optimizer {key} for {name} does not match the {name}"
                )
    moments = [b for k in ("exp_avg", "exp_avg_sq") for b in lists.get(k, [])]
    if cls is AdamState and any(b is None for b in moments):
        raise CheckpointError(f"{path}: the Adam state lacks its moment estimates")
    return cls(**lists, step=step)


def _history(path: Path, tensors: dict[str, np.ndarray], d: int) -> History:
    parts = {k: tensors.get(f"history.{k}") for k in ("train_loss", "test_loss", "weight", "bias")}
    if all(v is None for v in parts.values()):
        return History()
    if any(v is None for v in parts.values()):
        raise CheckpointError(f"{path}: the history is incomplete")
    epochs = parts["train_loss"].shape
    if not (
        parts["test_loss"].shape == epochs == parts["bias"].shape
        and parts["weight"].shape == (*epochs, d)
    ):
        raise CheckpointError(f"{path}: history arrays have inconsistent shapes")
    return History(
        train_loss=parts["train_loss"].tolist(),
        test_loss=parts["test_loss"].tolist(),
        weight=list(parts["weight"]),
        bias=parts["bias"].tolist(),
    )
