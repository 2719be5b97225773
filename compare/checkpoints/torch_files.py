"""The torch side's checkpoint files as gradcompare reads and writes them.

torch_impl/checkpoint.py says what a run's file holds. Here it is written atomically, and read
from whatever a user hands over: the course's bare state_dict, our whole-run .pth, or the
shared .safetensors layout, every failure one CheckpointError that names the file. `load`
trusts the sizes a file declares; give it `check` to look at every tensor first, as
convert.load_torch does (safety.py) for a file from elsewhere.
"""

from __future__ import annotations

import io
import json
import pickle
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from compare.checkpoints.safety import OPTIONAL_KEYS
from compare.files import atomic_save
from manual.checkpoint import HISTORY_KEYS, SCALAR_KEYS, CheckpointError
from manual.schedule_state import GROUP_KEYS
from torch_impl.checkpoint import FORMAT, PARAM_NAMES, header, layout_tensors, run_dict
from torch_impl.model import weight_and_bias
from torch_impl.optim import STATE_KEYS, optimizer_family
from torch_impl.train import History

PTH_SUFFIXES = (".pth", ".pt")
# The course notebook's state_dict keys, one set per model.
COURSE_KEYS = {
    "parameter": ("weights", "bias"),
    "linear": ("linear_layer.weight", "linear_layer.bias"),
}
# check(path, tensors by layout name, metadata): raise to refuse, before anything is computed.
Check = Callable[[Path, dict[str, object], dict[str, object]], None]
# A param_group key only one family has, and that family.
GROUP_MARKS = (("lr_decay", "adagrad"), ("centered", "rmsprop"), ("rho", "adadelta"),
               ("lambd", "asgd"), ("etas", "rprop"), ("momentum_decay", "nadam"))  # fmt: skip
# Where torch puts state["step"] and the scalars for a plain (not capturable) optimizer.
ON_PARAM_DEVICE = {"adagrad": {"step"}, "asgd": {"step", "eta", "mu"}}


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint in the shared layout, whatever file it came from."""

    weight: torch.Tensor  # (d,)
    bias: torch.Tensor  # (1,)
    optimizer_state: dict[str, list[torch.Tensor | None]]  # key -> [weight's, bias's] buffers
    history: History  # per-epoch losses and parameters so far (empty for a course file)
    metadata: dict[str, str]  # implementation, model, loss, dtype, epoch, config, versions


def save(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    history: History | None = None,
    metadata: dict[str, str] | None = None,
    scheduler: Any = None,  # noqa: ANN401  # an lr_scheduler, saved with its state_dict()
) -> None:
    """Write a .pth (the course's way, plus optimizer state) or .safetensors file, atomically."""
    history, metadata = history or History(), metadata or {}
    if path.suffix in PTH_SUFFIXES:
        blob = run_dict(model, optimizer, history, metadata, scheduler)
        atomic_save(path, lambda tmp: torch.save(blob, tmp))
    elif path.suffix == ".safetensors":
        tensors = layout_tensors(model, optimizer, history)
        meta = header(model, optimizer, history) | schedule_meta(optimizer, scheduler) | metadata
        data = safetensors.torch.save(tensors, metadata=meta)  # bytes: no temporary of its own
        atomic_save(path, lambda tmp: tmp.write_bytes(data))
    else:
        raise CheckpointError(f"{path}: unknown checkpoint format; use .pth or .safetensors")


def load(
    path: Path, map_location: str | torch.device = "cpu", check: Check | None = None
) -> Checkpoint:
    """Read a .pth or .safetensors checkpoint; tensors land on `map_location`."""
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
    """Copy the checkpoint's parameters (and optimizer state) into a model with the same d.

    The state goes into optimizer.state[param] as a fresh run of torch's keeps it: "step" and
    the scalars float32, on the device torch puts them. (optimizer.load_state_dict would cast
    the scalars to the parameters' dtype, so a resumed float64 NAdam or ASGD run would no
    longer be the uninterrupted one.)
    """
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
    on_device = ON_PARAM_DEVICE.get(family, set())
    for i, param in enumerate(model.parameters()):
        bufs = {k: buf for k, v in ckpt.optimizer_state.items() if (buf := v[i]) is not None}
        if family == "adam" and optimizer.defaults.get("amsgrad") and "max_exp_avg_sq" not in bufs:
            raise CheckpointError("the checkpoint was trained without --amsgrad; drop it")
        state = optimizer.state[param]
        if family != "sgd":  # torch's SGD keeps no step count
            step = float(ckpt.metadata.get("optimizer.step", "0"))
            where = param.device if "step" in on_device else torch.device("cpu")
            state["step"] = torch.tensor(step, dtype=torch.float32, device=where)
        for key, buf in bufs.items():
            if key in SCALAR_KEYS:
                where = param.device if key in on_device else torch.device("cpu")
                state[key] = buf.detach().to(device=where, dtype=torch.float32).reshape(())
            else:
                state[key] = buf.to(param).reshape(param.shape).clone()


def schedule_meta(optimizer: torch.optim.Optimizer | None, scheduler: Any) -> dict[str, str]:  # noqa: ANN401
    """A scheduler's state_dict() and the entries it writes in param_groups[0], as JSON."""
    if scheduler is None or optimizer is None:
        return {}
    return {"scheduler": json.dumps(scheduler.state_dict()),
            "optimizer.param_groups": scheduled_entries(optimizer.param_groups[0])}  # fmt: skip


def scheduled_entries(group: dict[str, Any]) -> str:
    """The entries of param_groups[0] a schedule writes (GROUP_KEYS), as a JSON list of one."""
    moved = {k: list(v) if isinstance(v, tuple) else v for k, v in group.items() if k in GROUP_KEYS}
    return json.dumps([moved])


def restore_scheduler(
    scheduler: Any,  # noqa: ANN401  # made afresh for the run, from its config
    optimizer: torch.optim.Optimizer,
    record: dict[str, Any],
    group: dict[str, Any],
) -> None:
    """Continue `scheduler` from a checked record in torch's keys, and put back the lr (and a
    cycle's momentum or betas) it had written into the optimizer's param_groups."""
    if isinstance(scheduler, torch.optim.lr_scheduler.CyclicLR):
        record = {"_scale_fn_custom": None} | record  # it expects one; a custom scale_fn has it
    scheduler.load_state_dict(record)
    for g in optimizer.param_groups:
        for key, value in group.items():
            if key in g:
                g[key] = tuple(value) if key == "betas" else value


def family_of_group(group: dict[str, Any]) -> str:
    """The optimizer family a param_group's keys belong to (for a .pth without metadata)."""
    for key, family in GROUP_MARKS:
        if key in group:
            return family
    if "betas" not in group:
        return "sgd"
    if "amsgrad" in group:
        return "adam"
    return "radam" if "decoupled_weight_decay" in group else "adamax"


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
            group = opt["param_groups"][0]
            family = str(metadata.get("optimizer.state") or family_of_group(group))
            per_param = [opt["state"].get(i, {}) for i in (0, 1)]
            for key in STATE_KEYS.get(family, ()):
                for name, st in zip(PARAM_NAMES, per_param, strict=True):
                    if st.get(key) is not None:
                        tensors[f"optimizer.{key}.{name}"] = st[key]
            if family != "sgd" and "step" in per_param[0]:
                step = per_param[0]["step"].item()  # torch keeps it as a float tensor
                whole = isinstance(step, float) and step.is_integer() and step >= 0
                metadata["optimizer.step"] = str(int(step)) if whole else str(step)
            metadata["optimizer.param_groups"] = scheduled_entries(group)
        except (KeyError, AttributeError, TypeError, IndexError, ValueError, RuntimeError):
            raise CheckpointError(f"{path}: optimizer_state_dict is malformed") from None
        metadata["optimizer.state"] = family
    scheduler = blob.get("scheduler_state_dict") if ours else None
    if scheduler is not None:
        try:
            metadata["scheduler"] = json.dumps(scheduler)
        except (TypeError, ValueError):
            raise CheckpointError(
                f"{path}: scheduler_state_dict holds more than numbers, text and lists"
            ) from None
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
        value = tensors[name]
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: {name} is a {type(value).__name__}, not a tensor")
        return value.to(map_location)

    weight, bias = tensor("weight"), tensor("bias")
    if weight.dim() == 2 and weight.shape[0] == 1:
        weight = weight[0]  # nn.Linear stores (out_features=1, d)
    if weight.dim() != 1 or tuple(bias.shape) != (1,):
        shapes = f"{tuple(weight.shape)} and {tuple(bias.shape)}"
        raise CheckpointError(f"{path}: weight must be (d,) and bias (1,), got {shapes}")
    family = meta.get("optimizer.state", "sgd")
    if family not in STATE_KEYS:
        raise CheckpointError(
            f"{path}: unknown optimizer state {family!r}; expected one of {', '.join(STATE_KEYS)}"
        )
    state: dict[str, list[torch.Tensor | None]] = {}
    for key in STATE_KEYS[family]:
        names = [f"optimizer.{key}.{p}" for p in PARAM_NAMES]
        state[key] = [
            None if n not in tensors else tensor(n) if key in SCALAR_KEYS
            else tensor(n).reshape(like.shape)
            for n, like in zip(names, (weight, bias), strict=True)
        ]  # fmt: skip
    if not any(b is not None for bufs in state.values() for b in bufs):
        state = {}
    lacking = sorted(
        k for k, bufs in state.items()
        if k not in OPTIONAL_KEYS.get(family, set()) and any(b is None for b in bufs)
    )  # fmt: skip
    if lacking:
        raise CheckpointError(f"{path}: the {family} state lacks {', '.join(lacking)}")
    history = History()
    if any(f"history.{k}" in tensors for k in HISTORY_KEYS):
        if any(f"history.{k}" not in tensors for k in HISTORY_KEYS):
            raise CheckpointError(f"{path}: the history is incomplete")
        h = {k: tensor(f"history.{k}").cpu() for k in HISTORY_KEYS}
        history = History(
            train_loss=h["train_loss"].tolist(),
            test_loss=h["test_loss"].tolist(),
            weight=list(h["weight"].reshape(len(h["train_loss"]), -1)),
            bias=h["bias"].tolist(),
        )
    return Checkpoint(weight, bias, state, history, meta)
