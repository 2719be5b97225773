"""Recording a notebook's training through torch's own global hooks, whatever its names.

Runs in the sandboxed child (child.py). What is recorded, and through what:
- every optimizer.step() of any torch.optim optimizer (torch's global step pre/post hooks):
  the parameters before and after, the gradients it saw, each group's hyperparameters;
- every forward of a module with parameters (torch's global forward hook): its input batch,
  grad mode, inference mode and model.training;
- every loss: torch.nn.functional's losses (the loss modules call them), and a loss written
  out by hand, through the subtraction of the model's output and its target;
- zero_grad, backward and step, in the order they came;
- torch.manual_seed (and torch.cuda's) calls, and when each module got its first parameter.

The record is bounded: the first MAX_STEPS steps of each optimizer in full, the rest counted,
with the last parameters kept, so a loop of 100,000 epochs answers in bounded memory.
It judges nothing: compare/notebooks/verdict.py does, in the parent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torch.utils.data

from compare.notebooks.io_hooks import IORecording, flat, where

MAX_STEPS = 2_000  # steps of each optimizer recorded in full
MAX_FORWARDS = 20_000  # forward and loss records kept in all
MAX_FLOATS = 20_000_000  # numbers kept from data batches in all (about 160 MB)
LOSSES = {"l1_loss": "l1", "mse_loss": "mse", "huber_loss": "huber", "smooth_l1_loss": "smooth_l1"}


class Recorder(IORecording):
    """Installs the hooks; `answer()` is the recording, in plain lists and arrays."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.clock = 0
        self.seeds: list[dict[str, Any]] = []
        self.modules: dict[int, dict[str, Any]] = {}
        self.module_refs: dict[int, torch.nn.Module] = {}
        self.loops: dict[int, dict[str, Any]] = {}
        self.optimizers: dict[int, torch.optim.Optimizer] = {}
        self.forwards: list[dict[str, Any]] = []
        self.losses: list[dict[str, Any]] = []
        self.pending: list[tuple[str, int]] = []  # events since the last step: (kind, index)
        self.out_forward: dict[int, int] = {}  # id(model output) -> forward index
        self.out_refs: list[torch.Tensor] = []  # keeps those ids from being reused
        self.loss_of: dict[int, int] = {}  # id(loss tensor) -> loss index
        self.arrays: list[np.ndarray] = []
        self.array_names: list[str | None] = []
        self.array_of: dict[tuple[Any, ...], int] = {}
        self.kept: list[torch.Tensor] = []
        self.floats = 0
        self.forward_count = 0
        self._current: dict[str, Any] | None = None
        self.generation = self.loss_generation = 0  # records older than these are let go
        self.saves: list[dict[str, Any]] = []  # torch.save of a dict: the path, the tensors
        self.loads: list[dict[str, Any]] = []  # torch.load: the path, weights_only as given
        self.loaded: list[dict[str, Any]] = []  # load_state_dict: the module, its tensors after
        self.passes = 0  # DataLoader passes started: a mini-batch loop's epochs
        self.loader_size = 0

    # -- installing -----------------------------------------------------------------------
    def install(self) -> None:
        from torch.nn.modules import module as M
        from torch.optim import optimizer as O

        # For the child's whole life: it ends when the notebook does, so nothing is removed.
        M.register_module_forward_hook(self.on_forward)
        M.register_module_parameter_registration_hook(self.on_parameter)
        O.register_optimizer_step_pre_hook(self.on_step_pre)
        O.register_optimizer_step_post_hook(self.on_step_post)
        self.patch(F, {name: self.loss_wrapper(name) for name in LOSSES})
        self.patch(
            torch.Tensor,
            {
                "backward": self.wrap_backward(torch.Tensor.backward),
                "__sub__": self.wrap_sub(torch.Tensor.__sub__, False),
                "__rsub__": self.wrap_sub(torch.Tensor.__rsub__, True),
            },
        )
        self.patch(
            torch.optim.Optimizer, {"zero_grad": self.wrap_zero(torch.optim.Optimizer.zero_grad)}
        )
        self.patch(torch.nn.Module, {"zero_grad": self.wrap_zero(torch.nn.Module.zero_grad)})
        for owner in (torch, torch.random):
            self.patch(owner, {"manual_seed": self.wrap_seed(torch.random.manual_seed, "torch")})
        self.patch(torch, {"save": self.wrap_save(torch.save), "load": self.wrap_load(torch.load)})
        real_load_state = torch.nn.Module.load_state_dict
        self.patch(torch.nn.Module, {"load_state_dict": self.wrap_load_state(real_load_state)})
        loader = torch.utils.data.DataLoader
        self.patch(loader, {"__iter__": self.wrap_loader(loader.__iter__)})
        for name in ("manual_seed", "manual_seed_all"):
            self.patch(torch.cuda, {name: self.wrap_seed(getattr(torch.cuda, name), "cuda")})

    def patch(self, owner: Any, new: dict[str, Any]) -> None:
        for name, fn in new.items():
            setattr(owner, name, fn)

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    # -- data -----------------------------------------------------------------------------
    def name_of(self, t: object) -> str | None:
        for name, value in self.namespace.items():
            if value is t and not name.startswith("_"):
                return name
        return None

    def array(self, t: object) -> int | None:
        """The index of this tensor's values among the recorded arrays (stored once per value
        of a named tensor, every time for an unnamed batch), or None past the bound."""
        if not isinstance(t, torch.Tensor) or t.is_complex():
            return None
        name = self.name_of(t)
        key = (id(t), t._version, t.data_ptr(), tuple(t.shape)) if name else None
        if key is not None and key in self.array_of:
            return self.array_of[key]
        if self.floats + t.numel() > MAX_FLOATS:
            return None
        self.floats += t.numel()
        self.arrays.append(t.detach().cpu().double().numpy().copy())
        self.array_names.append(name)
        if key is not None:
            self.array_of[key] = len(self.arrays) - 1
            self.kept.append(t)
        return len(self.arrays) - 1

    def detailed(self) -> bool:
        return len(self.forwards) + len(self.losses) < MAX_FORWARDS

    # -- hooks ----------------------------------------------------------------------------
    def on_parameter(self, module: torch.nn.Module, name: str, param: Any) -> None:
        if id(module) not in self.modules:
            cell, line = where()
            self.modules[id(module)] = {
                "clock": self.tick(),
                "cell": cell,
                "line": line,
                "class": type(module).__name__,
            }
            self.module_refs[id(module)] = module

    def on_forward(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        self.forward_count += 1
        if not self.detailed() or not isinstance(output, torch.Tensor):
            return
        if not any(True for _ in module.parameters(recurse=True)):
            return
        self.module_refs.setdefault(id(module), module)
        x = args[0] if args else None
        params = list(module.parameters())
        cell, line = where()
        rec = {
            "clock": self.tick(),
            "cell": cell,
            "line": line,
            "module": id(module),
            "input": self.array(x),
            "input_shape": list(x.shape) if isinstance(x, torch.Tensor) else None,
            "input_name": self.name_of(x),
            "pred_shape": list(output.shape),
            "pred": flat(output) if output.numel() <= 100_000 else None,
            "training": bool(module.training),
            "grad": torch.is_grad_enabled(),
            "inference": torch.is_inference_mode_enabled(),
            "input_device": str(x.device) if isinstance(x, torch.Tensor) else None,
            "param_device": str(params[0].device),
            "input_dtype": str(x.dtype) if isinstance(x, torch.Tensor) else None,
            "backward": False,
        }
        self.forwards.append(rec)
        self.out_forward[id(output)] = len(self.forwards) - 1
        self.out_refs.append(output)
        self.pending.append(("forward", len(self.forwards) - 1))

    def note_loss(self, kind: str, pred: object, target: object, **extra: Any) -> int | None:
        f = self.out_forward.get(id(pred))
        if f is None or not self.detailed():
            return None
        cell, line = where()
        self.losses.append(
            {
                "clock": self.tick(),
                "cell": cell,
                "line": line,
                "kind": kind,
                "forward": f,
                "target": self.array(target),
                "target_name": self.name_of(target),
                "target_shape": list(target.shape) if isinstance(target, torch.Tensor) else None,
                "grad": torch.is_grad_enabled(),
                **extra,
            }
        )
        self.pending.append(("loss", len(self.losses) - 1))
        return len(self.losses) - 1

    def loss_wrapper(self, name: str) -> Any:
        real = getattr(F, name)

        def loss(input: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
            out = real(input, target, *args, **kwargs)
            reduction = kwargs.get("reduction", "mean")
            if name in ("l1_loss", "mse_loss", "smooth_l1_loss") and len(args) >= 3:
                reduction = args[2]
            elif name == "huber_loss" and args:
                reduction = args[0]
            if kwargs.get("size_average") is False or kwargs.get("reduce") is False:
                reduction = "sum" if kwargs.get("reduce") is not False else "none"
            extra: dict[str, Any] = {"reduction": str(reduction)}
            if name == "huber_loss":
                extra["delta"] = float(kwargs.get("delta", args[1] if len(args) > 1 else 1.0))
            if name == "smooth_l1_loss":
                extra["beta"] = float(kwargs.get("beta", args[3] if len(args) > 3 else 1.0))
            i = self.note_loss(LOSSES[name], input, target, **extra)
            if i is not None and isinstance(out, torch.Tensor):
                self.loss_of[id(out)] = i
                self.out_refs.append(out)
            return out

        return loss

    def wrap_sub(self, real: Any, reflected: bool) -> Any:
        def sub(a: Any, b: Any, *args: Any, **kwargs: Any) -> Any:
            out = real(a, b, *args, **kwargs)
            # ŷ - y, y - ŷ or y.__rsub__: the model's output meets its target
            for pred, other in ((a, b), (b, a)):
                if id(pred) in self.out_forward and isinstance(other, torch.Tensor):
                    self.note_loss("written", pred, other, reduction="written")
                    break
            return out

        return sub

    def wrap_backward(self, real: Any) -> Any:
        def backward(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            i = self.loss_of.get(id(tensor))
            if i is None:  # a loss written out: the last subtraction of a model's output
                i = next((j for kind, j in reversed(self.pending) if kind == "loss"), None)
            value = float(tensor.detach().reshape(-1)[0]) if tensor.numel() == 1 else None
            if i is not None:  # the records exist, even once the bound stops new ones
                self.losses[i]["value"] = value
                self.forwards[self.losses[i]["forward"]]["backward"] = True
            self.pending.append(("backward", -1 if i is None else i))
            return real(tensor, *args, **kwargs)

        return backward

    def wrap_zero(self, real: Any) -> Any:
        def zero_grad(owner: Any, *args: Any, **kwargs: Any) -> Any:
            self.pending.append(("zero_grad", id(owner)))
            return real(owner, *args, **kwargs)

        return zero_grad

    def wrap_seed(self, real: Any, kind: str) -> Any:
        def manual_seed(seed: Any) -> Any:
            cell, line = where()
            self.seeds.append(
                {"clock": self.tick(), "cell": cell, "line": line, "seed": int(seed), "kind": kind}
            )
            return real(seed)

        return manual_seed

    def on_step_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        loop = self.loops.get(id(optimizer))
        if loop is None:
            cell, line = where()
            loop = self.loops[id(optimizer)] = {
                "optimizer": type(optimizer).__name__,
                "cell": cell,
                "line": line,
                "params": [id(p) for g in optimizer.param_groups for p in g["params"]],
                "shapes": [list(p.shape) for g in optimizer.param_groups for p in g["params"]],
                "steps": [],
                "total_steps": 0,
                "first_clock": self.tick(),
            }
            self.optimizers[id(optimizer)] = optimizer
        loop["total_steps"] += 1
        self._current = None
        if len(loop["steps"]) < MAX_STEPS:
            params = [p for g in optimizer.param_groups for p in g["params"]]
            hyper = [
                {
                    k: v
                    for k, v in g.items()
                    if k != "params"
                    and isinstance(v, int | float | bool | tuple | str | type(None))
                }
                for g in optimizer.param_groups
            ]
            self._current = {
                "clock": self.tick(),
                "before": [flat(p) for p in params],
                "grads": [None if p.grad is None else flat(p.grad) for p in params],
                "hyper": hyper,
                "events": self.pending[-200:],
                "passes": self.passes,
                "loader_size": self.loader_size,
            }
        self.pending = []

    def on_step_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        loop = self.loops[id(optimizer)]
        params = [p for g in optimizer.param_groups for p in g["params"]]
        loop["last"] = [flat(p) for p in params]
        if self._current is not None:
            self._current["after"] = loop["last"]
            loop["steps"].append(self._current)
        # One generation is kept: a backward() after the step (step_before_backward) still
        # finds its loss; older ones go, so the maps stay bounded.
        self.out_forward = {k: v for k, v in self.out_forward.items() if v >= self.generation}
        self.loss_of = {k: v for k, v in self.loss_of.items() if v >= self.loss_generation}
        self.out_refs = self.out_refs[-64:]
        self.generation, self.loss_generation = len(self.forwards), len(self.losses)

    # -- the answer -----------------------------------------------------------------------
    def answer(self) -> dict[str, Any]:
        for f in self.forwards:
            f["module_name"] = self.name_of(self.module_refs.get(f["module"]))
        modules = {}
        for mid, module in self.module_refs.items():
            info = dict(self.modules.get(mid, {}))
            subs = [self.modules[id(m)]["clock"] for m in module.modules() if id(m) in self.modules]
            info.update(
                {
                    "class": type(module).__name__,
                    "name": self.name_of(module),
                    "created": min(subs) if subs else None,
                    "params": [id(p) for p in module.parameters()],
                    "param_names": [n for n, _ in module.named_parameters()],
                }
            )
            modules[str(mid)] = info
        for oid, loop in self.loops.items():
            loop["name"] = self.name_of(self.optimizers[oid])
        kinds = {}
        for name, value in self.namespace.items():
            if isinstance(value, torch.nn.Module):
                kinds[name] = "module"
            elif isinstance(value, torch.Tensor):
                kinds[name] = "tensor"
        return {
            "seeds": self.seeds,
            "modules": modules,
            "loops": list(self.loops.values()),
            "forwards": self.forwards,
            "losses": self.losses,
            "arrays": self.arrays,
            "array_names": self.array_names,
            "tail": self.pending[-200:],
            "forward_count": self.forward_count,
            "kinds": kinds,
            "saves": self.saves[:50],
            "loads": self.loads[:50],
            "loaded": self.loaded[:50],
        }
