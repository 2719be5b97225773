"""Save and load the torch side: the course's state_dict, and a whole run.

The course saves with `torch.save(model.state_dict(), PATH)` and loads with
`model.load_state_dict(torch.load(PATH, weights_only=True))`: save_state_dict and
load_state_dict, first below. weights_only=True rebuilds tensors and plain containers only,
and refuses a file that would run code when unpickled.

A whole run is one dict of state_dicts plus what it was (as nanoGPT saves one):
    {"model_state_dict", "optimizer_state_dict", "scheduler_state_dict", "history", "metadata"}
written as .pth, or flattened into the .safetensors layout manual/checkpoint.py documents, so
either side loads the other's file. Reading a file from elsewhere, and writing atomically,
are gradcompare's job (compare/checkpoints/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from torch_impl.model import LinearRegressionModelV2, weight_and_bias
from torch_impl.optim import STATE_KEYS, optimizer_family
from torch_impl.train import History

FORMAT = "gradcompare-checkpoint/1"
PARAM_NAMES = ("weight", "bias")


def save_state_dict(model: nn.Module, path: str | Path) -> None:
    """The course's save: torch.save(model.state_dict(), path)."""
    # BEGIN SOLUTION task-16
    torch.save(model.state_dict(), path)
    # END SOLUTION


def load_state_dict(model: nn.Module, path: str | Path) -> None:
    """The course's load: model.load_state_dict(torch.load(path, weights_only=True))."""
    # BEGIN SOLUTION task-16
    model.load_state_dict(torch.load(path, weights_only=True))
    # END SOLUTION


def run_dict(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    history: History,
    meta: dict[str, str],
    scheduler: Any = None,  # noqa: ANN401  # an lr_scheduler, if the run had one
) -> dict[str, Any]:
    """The whole run as one dict of state_dicts, its history and its metadata: the .pth."""
    return {
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict() if optimizer else None,
        "scheduler_state_dict": scheduler.state_dict() if scheduler is not None else None,
        "history": history_tensors(history, weight_and_bias(model)[0].numel()),
        "metadata": header(model, optimizer, history) | meta,
    }


def layout_tensors(
    model: nn.Module, optimizer: torch.optim.Optimizer | None, history: History
) -> dict[str, torch.Tensor]:
    """The same run flattened into the shared layout's names, for .safetensors."""
    weight, bias = (p.detach().cpu() for p in weight_and_bias(model))
    tensors = {"weight": weight.reshape(-1).contiguous(), "bias": bias.contiguous()}
    state = optimizer.state if optimizer is not None else {}
    for key in STATE_KEYS[optimizer_family(optimizer)]:
        for name, param in zip(PARAM_NAMES, model.parameters(), strict=True):
            if (buf := state.get(param, {}).get(key)) is not None:
                buf = buf.detach().cpu()
                tensors[f"optimizer.{key}.{name}"] = buf.reshape(-1) if buf.dim() else buf
    history_part = history_tensors(history, weight.numel())
    return tensors | {f"history.{k}": v for k, v in history_part.items()}


def header(
    model: nn.Module, optimizer: torch.optim.Optimizer | None, history: History
) -> dict[str, str]:
    """What the run was: format, model, dtype, epochs and the optimizer's family and step."""
    dtype = str(weight_and_bias(model)[0].dtype).removeprefix("torch.")
    # Every family but SGD counts its steps in state['step']; for SGD the caller supplies it.
    first = optimizer.state.get(next(iter(model.parameters())), {}) if optimizer else {}
    return {"format": FORMAT, "implementation": "torch", "dtype": dtype,
            "model": "linear" if isinstance(model, LinearRegressionModelV2) else "parameter",
            "epoch": str(len(history.train_loss)),
            "optimizer.step": str(int(first["step"])) if "step" in first else "0",
            **({"optimizer.state": optimizer_family(optimizer)} if optimizer else {})}  # fmt: skip


def history_tensors(history: History, d: int) -> dict[str, torch.Tensor]:
    """Per-epoch losses and parameters as float64 tensors: (E,), (E,), (E, d), (E,)."""
    return {
        "train_loss": torch.tensor(history.train_loss, dtype=torch.float64),
        "test_loss": torch.tensor(history.test_loss, dtype=torch.float64),
        "weight": torch.from_numpy(np.array(history.weight, dtype=np.float64).reshape(-1, d)),
        "bias": torch.tensor(history.bias, dtype=torch.float64),
    }
