"""Save and load the torch side: the course's .pth state_dict, or the shared .safetensors layout.

The course saves with `torch.save(model.state_dict(), PATH)` and loads with
`model.load_state_dict(torch.load(PATH))`: save_state_dict and load_state_dict, first below.
.pth files are pickles, so they are read only with `torch.load(..., weights_only=True)`, which
rebuilds tensors and plain containers and refuses anything that would run code. `save` and
`load` keep a whole run (optimizer state, history, metadata), as .pth or in the .safetensors
layout manual/checkpoint.py documents; either side loads the other's file.

`load` trusts the sizes a file declares; give it `check` to look at every tensor first, as
gradcompare does (compare/checkpoints/safety.py) for a file from elsewhere.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import safetensors
import safetensors.torch
import torch
from torch import nn

from torch_impl.model import LinearRegressionModelV2, weight_and_bias
from torch_impl.optim import optimizer_family
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
# check(path, tensors by layout name, metadata): raise to refuse, before anything is computed.
Check = Callable[[Path, dict[str, object], dict[str, object]], None]


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


def save_state_dict(model: nn.Module, path: str | Path) -> None:
    """The course's save: torch.save(model.state_dict(), path), written atomically."""
    # BEGIN SOLUTION task-16
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic_write(Path(path), buffer.getvalue())
    # END SOLUTION


def load_state_dict(model: nn.Module, path: str | Path) -> None:
    """The course's load: model.load_state_dict(torch.load(path, weights_only=True)).

    weights_only=True rebuilds tensors and plain containers only: a file that would run
    code when unpickled is refused instead.
    """
    # BEGIN SOLUTION task-16
    model.load_state_dict(torch.load(Path(path), weights_only=True))
    # END SOLUTION


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
        "model": "linear" if isinstance(model, LinearRegressionModelV2) else "parameter",
        "dtype": str(weight.dtype).removeprefix("torch."),
        "epoch": str(len(history.train_loss)),
        "optimizer.step": optimizer_steps(model, optimizer),
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


def load(
    path: str | Path, map_location: str | torch.device = "cpu", check: Check | None = None
) -> Checkpoint:
    """Read a .pth or .safetensors checkpoint; tensors land on `map_location`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.suffix in PTH_SUFFIXES:
        tensors, metadata = _read_pth(path)
    elif path.suffix == ".safetensors":
        tensors, metadata = _read_safetensors(path)
    else:
        raise CheckpointError(f"{path}: unknown checkpoint format; use .pth or .safetensors")
    if check is not None:
        check(path, tensors, metadata)
    return _from_layout(path, tensors, metadata, map_location)


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
            if buf is not None:
                optimizer.state[param][key] = buf.to(param).reshape(param.shape).clone()


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


def _read_pth(path: Path) -> tuple[dict[str, object], dict[str, object]]:
    """The .pth file's tensors under the shared layout's names, and its metadata."""
    try:
        with warnings.catch_warnings():  # a legacy (non-zip) pickle makes torch warn first
            warnings.simplefilter("ignore")
            blob = torch.load(io.BytesIO(path.read_bytes()), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as e:
        if any(
            s in str(e) for s in ("Unsupported global", "GLOBAL", "REDUCE", "Unsupported class")
        ):
            raise CheckpointError(
                f"{path}: refused: this file tries to build Python objects beyond tensors, which "
                "could run code; only weights-only checkpoints are accepted"
            ) from None
        raise CheckpointError(f"{path}: not a readable .pth file (bad pickle data)") from None
    except Exception as e:  # any other parse failure means a corrupt or truncated file
        raise CheckpointError(f"{path}: not a readable .pth file ({type(e).__name__})") from None
    if not isinstance(blob, dict):
        raise CheckpointError(f"{path}: expected a state_dict, found a {type(blob).__name__}")
    ours = "model_state_dict" in blob
    state_dict = blob["model_state_dict"] if ours else blob  # else the course's bare state_dict
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{path}: model_state_dict is not a dict")
    metadata = blob.get("metadata") if ours else {"implementation": "torch"}
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: metadata is a {type(metadata).__name__}, not a dict")
    metadata = dict(metadata)
    for kind, (w_key, b_key) in COURSE_KEYS.items():
        if set(state_dict) == {w_key, b_key}:
            metadata.setdefault("model", kind)
            tensors: dict[str, object] = {"weight": state_dict[w_key], "bias": state_dict[b_key]}
            break
    else:
        raise CheckpointError(
            f"{path}: unexpected keys {sorted(map(str, state_dict))[:5]}; expected "
            + " or ".join(str(list(k)) for k in COURSE_KEYS.values())
        )
    opt = blob.get("optimizer_state_dict") if ours else None
    if opt:
        try:
            family = "adam" if "betas" in opt["param_groups"][0] else "sgd"
            per_param = [opt["state"].get(i, {}) for i in (0, 1)]
            for key in STATE_KEYS[family]:
                for name, st in zip(PARAM_NAMES, per_param, strict=True):
                    if st.get(key) is not None:
                        tensors[f"optimizer.{key}.{name}"] = st[key]
            if family == "adam" and "step" in per_param[0]:
                step = per_param[0]["step"].item()  # torch keeps it as a float tensor
                whole = isinstance(step, float) and step.is_integer() and step >= 0
                metadata["optimizer.step"] = str(int(step)) if whole else str(step)
        except (KeyError, AttributeError, TypeError, IndexError, ValueError, RuntimeError):
            raise CheckpointError(f"{path}: optimizer_state_dict is malformed") from None
        metadata["optimizer.state"] = family
    history = blob.get("history") if ours else None
    if history:
        if not isinstance(history, dict):
            raise CheckpointError(f"{path}: history is a {type(history).__name__}, not a dict")
        tensors.update({f"history.{k}": v for k, v in history.items()})
    return tensors, metadata


def _read_safetensors(path: Path) -> tuple[dict[str, object], dict[str, object]]:
    try:
        with safetensors.safe_open(path, framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})  # noqa: SIM118
    except Exception as e:  # any parse failure means a corrupt or truncated file
        raise CheckpointError(f"{path}: not a readable .safetensors file ({e})") from None


def _from_layout(
    path: Path,
    tensors: dict[str, object],
    metadata: dict[str, object],
    map_location: str | torch.device,
) -> Checkpoint:
    """The shared layout's tensors as a Checkpoint, on `map_location`."""
    meta = {str(k): str(v) for k, v in metadata.items()}
    if "format" in metadata and meta["format"] != FORMAT:
        raise CheckpointError(f"{path}: not a gradcompare checkpoint (format {meta['format']!r})")

    def tensor(name: str) -> torch.Tensor:
        t = tensors[name]
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"{path}: {name} is a {type(t).__name__}, not a tensor")
        return t.to(map_location)

    weight, bias = tensor("weight"), tensor("bias")
    if weight.dim() == 2 and weight.shape[0] == 1:
        weight = weight[0]  # nn.Linear stores (out_features=1, d)
    if weight.dim() != 1 or tuple(bias.shape) != (1,):
        shapes = f"{tuple(weight.shape)} and {tuple(bias.shape)}"
        raise CheckpointError(f"{path}: weight must be (d,) and bias (1,), got {shapes}")
    family = meta.get("optimizer.state", "sgd")
    if family not in STATE_KEYS:
        raise CheckpointError(f"{path}: unknown optimizer state {family!r}; expected sgd or adam")
    state: dict[str, list[torch.Tensor | None]] = {}
    for key in STATE_KEYS[family]:
        names = [f"optimizer.{key}.{p}" for p in PARAM_NAMES]
        state[key] = [
            tensor(n).reshape(like.shape) if n in tensors else None
            for n, like in zip(names, (weight, bias), strict=True)
        ]
    if (
        family == "adam"
        and state
        and any(b is None for k in ("exp_avg", "exp_avg_sq") for b in state[k])
    ):
        raise CheckpointError(f"{path}: the Adam state lacks its moment estimates")
    if not any(b is not None for bufs in state.values() for b in bufs):
        state = {}
    history = History()
    if any(f"history.{k}" in tensors for k in HISTORY_KEYS):
        if any(f"history.{k}" not in tensors for k in HISTORY_KEYS):
            raise CheckpointError(f"{path}: the history is incomplete")
        h = {k: tensor(f"history.{k}").cpu() for k in HISTORY_KEYS}
        history = History(
            train_loss=h["train_loss"].tolist(),
            test_loss=h["test_loss"].tolist(),
            weight=list(h["weight"].reshape(len(h["train_loss"]), -1).numpy()),
            bias=h["bias"].tolist(),
        )
    return Checkpoint(weight, bias, state, history, meta)


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
