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
PARAM_NAMES = ("weight", "bias")
# Per-parameter buffers in optimizer.state[param], by optimizer family.
STATE_KEYS = {"sgd": ("momentum_buffer",), "adam": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")}


class CheckpointError(ValueError):
    """A checkpoint file is missing, malformed or inconsistent; the message names the file."""


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint in the shared layout, whatever file it came from."""

    weight: torch.Tensor  # (d,)
    bias: torch.Tensor  # (1,)
    optimizer_state: dict[str, list[torch.Tensor | None]]  # key -> [weight's, bias's] buffers
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
        "optimizer.step": str(optimizer_steps(model, optimizer)),
        "versions": versions(),
        **({"optimizer.state": optimizer_family(optimizer)} if optimizer is not None else {}),
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
        for key, bufs in optimizer_buffers(model, optimizer).items():
            for name, buf in zip(PARAM_NAMES, bufs, strict=True):
                if buf is not None:
                    tensors[f"optimizer.{key}.{name}"] = buf.detach().cpu().reshape(-1)
        tensors.update({f"history.{k}": v for k, v in hist.items()})
        atomic_write(path, safetensors.torch.save(tensors, metadata=header))
    else:
        raise CheckpointError(f"{path}: unknown checkpoint format; use .pth or .safetensors")


def optimizer_family(optimizer: torch.optim.Optimizer | None) -> str:
    """'adam' for Adam and AdamW (same state), else 'sgd'."""
    return "adam" if isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW) else "sgd"


def optimizer_buffers(
    model: nn.Module, optimizer: torch.optim.Optimizer | None
) -> dict[str, list[torch.Tensor | None]]:
    """The optimizer's per-parameter buffers for [weight, bias], None where there are none."""
    params = list(model.parameters())  # [weight, bias] for both models
    keys = STATE_KEYS[optimizer_family(optimizer)]
    state = optimizer.state if optimizer is not None else {}
    return {k: [state.get(p, {}).get(k) for p in params] for k in keys}


def optimizer_steps(model: nn.Module, optimizer: torch.optim.Optimizer | None) -> str:
    """Adam counts its steps in state['step']; SGD keeps no count, so the caller supplies it."""
    state = optimizer.state.get(next(iter(model.parameters())), {}) if optimizer else {}
    return str(int(state["step"])) if "step" in state else "0"


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
    opt = blob.get("optimizer_state_dict") if ours else None
    opt_state: dict[str, list[object]] = {}
    if opt:
        try:
            family = "adam" if "betas" in opt["param_groups"][0] else "sgd"
            per_param = [opt["state"].get(i, {}) for i in (0, 1)]
            opt_state = {k: [st.get(k) for st in per_param] for k in STATE_KEYS[family]}
            if family == "adam" and "step" in per_param[0]:
                metadata["optimizer.step"] = str(int(per_param[0]["step"]))
        except (KeyError, AttributeError, TypeError, IndexError, ValueError):
            raise CheckpointError(f"{path}: optimizer_state_dict is malformed") from None
        metadata["optimizer.state"] = family
    hist = blob.get("history") if ours else None
    return Checkpoint(
        weight,
        bias,
        _check_buffers(path, opt_state, weight, bias),
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
    known = {*PARAM_NAMES, *(f"history.{k}" for k in HISTORY_KEYS)}
    known |= {
        f"optimizer.{k}.{n}" for keys in STATE_KEYS.values() for k in keys for n in PARAM_NAMES
    }
    if tensors.keys() - known or {"weight", "bias"} - tensors.keys():
        raise CheckpointError(
            f"{path}: unexpected tensors {sorted(tensors.keys() - known)} or missing "
            f"{sorted({'weight', 'bias'} - tensors.keys())}"
        )
    weight, bias = _check_params(path, tensors["weight"], tensors["bias"])
    family = metadata.get("optimizer.state", "sgd")
    if family not in STATE_KEYS:
        raise CheckpointError(f"{path}: unknown optimizer state {family!r}")
    opt_state = {
        k: [tensors.get(f"optimizer.{k}.{n}") for n in PARAM_NAMES] for k in STATE_KEYS[family]
    }
    hist = {k: tensors[f"history.{k}"] for k in HISTORY_KEYS if f"history.{k}" in tensors}
    return Checkpoint(
        weight,
        bias,
        _check_buffers(path, opt_state, weight, bias),
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
    path: Path, state: dict[str, list[object]], weight: torch.Tensor, bias: torch.Tensor
) -> dict[str, list[torch.Tensor | None]]:
    checked: dict[str, list[torch.Tensor | None]] = {}
    for key, bufs in state.items():
        checked[key] = []
        for buf, like, name in zip(bufs, (weight, bias), PARAM_NAMES, strict=True):
            if buf is not None:
                ok = isinstance(buf, torch.Tensor) and buf.numel() == like.numel()
                if not ok or buf.dtype != like.dtype:
                    raise CheckpointError(f"{path}: optimizer {key} for {name} does not match")
                buf = buf.reshape(like.shape)
            checked[key].append(buf)
    if "exp_avg" in checked and any(
        b is None for k in ("exp_avg", "exp_avg_sq") for b in checked[k]
    ):
        raise CheckpointError(f"{path}: the Adam state lacks its moment estimates")
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
    """Copy the checkpoint's parameters (and optimizer state) into a model with the same d."""
    weight, bias = weight_and_bias(model)
    if weight.numel() != ckpt.weight.numel():
        raise CheckpointError(
            f"the checkpoint has {ckpt.weight.numel()} feature(s), the model {weight.numel()}"
        )
    with torch.no_grad():
        weight.copy_(ckpt.weight.reshape(weight.shape))
        bias.copy_(ckpt.bias)
    if optimizer is None or not ckpt.optimizer_state:
        return
    family = ckpt.metadata.get("optimizer.state", "sgd")
    if family != optimizer_family(optimizer):
        raise CheckpointError(
            f"the checkpoint holds {family} state but the run uses {type(optimizer).__name__}; "
            f"pass the same --optimizer"
        )
    for i, param in enumerate(model.parameters()):
        bufs = {k: v[i] for k, v in ckpt.optimizer_state.items() if v[i] is not None}
        if family == "adam":
            if optimizer.defaults.get("amsgrad") and "max_exp_avg_sq" not in bufs:
                raise CheckpointError("the checkpoint was trained without --amsgrad; drop it")
            # torch keeps Adam's step as a float32 CPU tensor.
            optimizer.state[param]["step"] = torch.tensor(
                float(ckpt.metadata.get("optimizer.step", "0")), dtype=torch.float32
            )
        for key, buf in bufs.items():
            optimizer.state[param][key] = buf.to(param).reshape(param.shape).clone()
