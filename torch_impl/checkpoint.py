"""Save and load the torch side: the course's .pth state_dict, or the shared .safetensors layout.

.pth files are pickles. torch.load(..., weights_only=True) only rebuilds tensors and plain
containers, and refuses anything that would run code, so that is the only way we call it.
The .safetensors layout is the one manual/checkpoint.py documents; either side loads the other's.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import safetensors
import safetensors.torch
import torch
from torch import nn

from torch_impl.model import LinearRegressionModelV2, weight_and_bias
from torch_impl.train import History

FORMAT = "gradcompare-checkpoint/1"
PTH_SUFFIXES = (".pth", ".pt")
# The course notebook's state_dict keys, one set per model.
COURSE_KEYS = {
    "parameter": ("weights", "bias"),
    "linear": ("linear_layer.weight", "linear_layer.bias"),
}
HISTORY_KEYS = ("train_loss", "test_loss", "weight", "bias")


class CheckpointError(ValueError):
    """A checkpoint file is missing, malformed or inconsistent; the message names the file."""


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint in the shared layout, whatever file it came from."""

    weight: torch.Tensor  # (d,)
    bias: torch.Tensor  # (1,)
    momentum_buffers: list[torch.Tensor | None]  # [weight's, bias's]; None before momentum ran
    history: History  # per-epoch losses and parameters so far (empty for a course file)
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


def model_kind(model: nn.Module) -> str:
    """'linear' for the nn.Linear model, else 'parameter'."""
    return "linear" if isinstance(model, LinearRegressionModelV2) else "parameter"


def save(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    history: History | None = None,
    metadata: dict[str, str] | None = None,
) -> None:
    """Write a .pth (the course's way, plus optimizer state) or .safetensors file, atomically."""
    path = Path(path)
    history = history or History()
    weight, bias = (p.detach().cpu() for p in weight_and_bias(model))
    header = {
        "format": FORMAT,
        "implementation": "torch",
        "model": model_kind(model),
        "dtype": str(weight.dtype).removeprefix("torch."),
        "epoch": str(len(history.train_loss)),
        "optimizer.step": str(len(history.train_loss)),  # one step per full-batch epoch
        "versions": versions(),
        **(metadata or {}),
    }
    d = weight.numel()
    hist = {
        "train_loss": torch.tensor(history.train_loss, dtype=torch.float64),
        "test_loss": torch.tensor(history.test_loss, dtype=torch.float64),
        "weight": torch.from_numpy(np.array(history.weight, dtype=np.float64).reshape(-1, d)),
        "bias": torch.tensor(history.bias, dtype=torch.float64),
    }
    if path.suffix in PTH_SUFFIXES:
        blob = {
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict() if optimizer else None,
            "history": hist,
            "metadata": header,
        }
        buffer = io.BytesIO()
        torch.save(blob, buffer)
        atomic_write(path, buffer.getvalue())
    elif path.suffix == ".safetensors":
        tensors = {"weight": weight.reshape(-1).contiguous(), "bias": bias.contiguous()}
        for name, buf in zip(("weight", "bias"), momentum_buffers(model, optimizer), strict=True):
            if buf is not None:
                tensors[f"optimizer.momentum_buffer.{name}"] = buf.detach().cpu().reshape(-1)
        tensors.update({f"history.{k}": v for k, v in hist.items()})
        atomic_write(path, safetensors.torch.save(tensors, metadata=header))
    else:
        raise CheckpointError(f"{path}: unknown checkpoint format; use .pth or .safetensors")


def momentum_buffers(
    model: nn.Module, optimizer: torch.optim.Optimizer | None
) -> list[torch.Tensor | None]:
    """The optimizer's velocity for [weight, bias], or None where it has none yet."""
    if optimizer is None:
        return [None, None]
    return [optimizer.state.get(p, {}).get("momentum_buffer") for p in weight_and_bias(model)]


def load(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read and check a .pth or .safetensors checkpoint; tensors land on `map_location`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.suffix in PTH_SUFFIXES:
        return _from_pth(path, map_location)
    if path.suffix == ".safetensors":
        return _from_safetensors(path, map_location)
    raise CheckpointError(f"{path}: unknown checkpoint format; use .pth or .safetensors")


def _from_pth(path: Path, map_location: str | torch.device) -> Checkpoint:
    try:
        blob = torch.load(
            io.BytesIO(path.read_bytes()), weights_only=True, map_location=map_location
        )
    except pickle.UnpicklingError as e:
        if "Unsupported global" not in str(e):  # garbage bytes, not a pickle of objects
            raise CheckpointError(f"{path}: not a readable .pth file (bad pickle data)") from None
        raise CheckpointError(
            f"{path}: refused: it holds Python objects beyond tensors, and loading them could "
            "run code; only weights-only checkpoints are accepted"
        ) from None
    except Exception as e:  # any other parse failure means a corrupt or truncated file
        raise CheckpointError(f"{path}: not a readable .pth file ({type(e).__name__})") from None
    if not isinstance(blob, dict):
        raise CheckpointError(f"{path}: expected a state_dict, found a {type(blob).__name__}")
    ours = "model_state_dict" in blob
    state_dict = blob["model_state_dict"] if ours else blob  # else the course's bare state_dict
    metadata = dict(blob.get("metadata") or {}) if ours else {"implementation": "torch"}
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{path}: model_state_dict is not a dict")
    for kind, (w_key, b_key) in COURSE_KEYS.items():
        if set(state_dict) == {w_key, b_key}:
            metadata.setdefault("model", kind)
            weight, bias = state_dict[w_key], state_dict[b_key]
            break
    else:
        raise CheckpointError(
            f"{path}: unexpected keys {sorted(state_dict)}; expected "
            + " or ".join(str(list(k)) for k in COURSE_KEYS.values())
        )
    weight, bias = _check_params(path, weight, bias)
    buffers: list[torch.Tensor | None] = [None, None]
    opt = blob.get("optimizer_state_dict") if ours else None
    if opt:
        try:
            buffers = [opt["state"].get(i, {}).get("momentum_buffer") for i in (0, 1)]
        except (KeyError, AttributeError, TypeError):
            raise CheckpointError(f"{path}: optimizer_state_dict is malformed") from None
        metadata.setdefault(
            "optimizer.step", str(len(blob.get("history", {}).get("train_loss", [])))
        )
    hist = blob.get("history") if ours else None
    return Checkpoint(
        weight,
        bias,
        _check_buffers(path, buffers, weight, bias),
        _history(path, hist or {}, weight.numel()),
        metadata,
    )


def _from_safetensors(path: Path, map_location: str | torch.device) -> Checkpoint:
    try:
        with safetensors.safe_open(path, framework="pt", device=str(map_location)) as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            metadata = f.metadata() or {}
    except Exception as e:  # any parse failure means a corrupt or truncated file
        raise CheckpointError(f"{path}: not a readable .safetensors file ({e})") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a gradcompare checkpoint (format {metadata.get('format')!r})"
        )
    known = {"weight", "bias"} | {f"optimizer.momentum_buffer.{n}" for n in ("weight", "bias")}
    known |= {f"history.{k}" for k in HISTORY_KEYS}
    if tensors.keys() - known or {"weight", "bias"} - tensors.keys():
        raise CheckpointError(
            f"{path}: unexpected tensors {sorted(tensors.keys() - known)} or missing "
            f"{sorted({'weight', 'bias'} - tensors.keys())}"
        )
    weight, bias = _check_params(path, tensors["weight"], tensors["bias"])
    buffers = [tensors.get(f"optimizer.momentum_buffer.{n}") for n in ("weight", "bias")]
    hist = {k: tensors[f"history.{k}"] for k in HISTORY_KEYS if f"history.{k}" in tensors}
    return Checkpoint(
        weight,
        bias,
        _check_buffers(path, buffers, weight, bias),
        _history(path, hist, weight.numel()),
        dict(metadata),
    )


def _check_params(path: Path, weight: object, bias: object) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(weight, torch.Tensor) and isinstance(bias, torch.Tensor)):
        raise CheckpointError(f"{path}: weight and bias must be tensors")
    if weight.dim() == 2 and weight.shape[0] == 1:
        weight = weight[0]  # nn.Linear stores (out_features=1, d)
    if weight.dim() != 1 or weight.numel() < 1 or tuple(bias.shape) != (1,):
        shapes = f"{tuple(weight.shape)} and {tuple(bias.shape)}"
        raise CheckpointError(f"{path}: weight must be (d,) and bias (1,), got {shapes}")
    if weight.dtype not in (torch.float32, torch.float64) or bias.dtype != weight.dtype:
        raise CheckpointError(
            f"{path}: parameters must both be float32 or float64, got {weight.dtype}, {bias.dtype}"
        )
    if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
        raise CheckpointError(f"{path}: a parameter is NaN or infinite")
    return weight, bias


def _check_buffers(
    path: Path, buffers: list[object], weight: torch.Tensor, bias: torch.Tensor
) -> list[torch.Tensor | None]:
    checked: list[torch.Tensor | None] = []
    for buf, like, name in zip(buffers, (weight, bias), ("weight", "bias"), strict=True):
        if buf is not None:
            if (
                not isinstance(buf, torch.Tensor)
                or buf.numel() != like.numel()
                or buf.dtype != like.dtype
            ):
                raise CheckpointError(
                    f"{path}: momentum buffer for {name} does not match the {name}"
                )
            buf = buf.reshape(like.shape)
        checked.append(buf)
    return checked


def _history(path: Path, hist: dict[str, object], d: int) -> History:
    if not hist:
        return History()
    try:
        parts = {k: hist[k] for k in HISTORY_KEYS}
        n = parts["train_loss"].shape[0]
        ok = all(parts[k].shape == (n,) for k in ("test_loss", "bias"))
        ok = ok and tuple(parts["weight"].shape) == (n, d)
    except (KeyError, AttributeError, IndexError):
        ok = False
    if not ok:
        raise CheckpointError(f"{path}: the history is incomplete or has inconsistent shapes")
    return History(
        train_loss=parts["train_loss"].tolist(),
        test_loss=parts["test_loss"].tolist(),
        weight=[row.cpu().numpy() for row in parts["weight"]],
        bias=parts["bias"].tolist(),
    )


def restore(
    model: nn.Module, ckpt: Checkpoint, optimizer: torch.optim.Optimizer | None = None
) -> None:
    """Copy the checkpoint's parameters (and momentum) into a model built with the same d."""
    weight, bias = weight_and_bias(model)
    if weight.numel() != ckpt.weight.numel():
        raise CheckpointError(
            f"the checkpoint has {ckpt.weight.numel()} feature(s), the model {weight.numel()}"
        )
    with torch.no_grad():
        weight.copy_(ckpt.weight.reshape(weight.shape))
        bias.copy_(ckpt.bias)
    if optimizer is not None:
        params = [p for p in model.parameters()]
        for param, buf in zip(params, ckpt.momentum_buffers, strict=True):
            if buf is not None:
                optimizer.state[param]["momentum_buffer"] = (
                    buf.to(param).reshape(param.shape).clone()
                )
