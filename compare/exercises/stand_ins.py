"""Stand-ins for the pieces a wiring task calls, so one mistake fails one task only.

Tasks 9 and 11 grade how the pieces fit together (a loop, the chapter's exercise). While they
run, the student's forward, gradients, step, make_line, fit, … are swapped for these: a sign
slip in task 6 must not fail task 9 as well. Each is the reference, written plainly; they run
in the sandbox beside the student's code, where the instructor's key cannot be read.
"""

from __future__ import annotations

import math
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Refused(Exception):
    """The student's code did something the task forbids; the message says what."""


def stand_in_forward(X: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return X @ w[:, None] + b


def stand_in_backward(X: np.ndarray, dpred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (X.T @ dpred)[:, 0], dpred.sum(axis=0)


@dataclass(frozen=True)
class StandInLoss:
    name: str

    def value(self, pred: np.ndarray, target: np.ndarray) -> float:
        r = pred - target
        if self.name == "l1":
            return float(np.mean(np.abs(r)))
        if self.name == "mse":
            return float(np.mean(r * r))
        a = np.abs(r)
        return float(np.mean(np.where(a < 1.0, 0.5 * a * a, a - 0.5)))

    def grad(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        r = pred - target
        if self.name == "l1":
            return np.sign(r) / r.size
        if self.name == "mse":
            return (2.0 / r.size) * r
        return np.clip(r, -1.0, 1.0) / r.size


def stand_in_gradients(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, loss: Any
) -> tuple[float, np.ndarray, np.ndarray]:
    pred = stand_in_forward(X, w, b)
    dw, db = stand_in_backward(X, loss.grad(pred, y))
    return loss.value(pred, y), dw, db


@dataclass
class StandInState:
    kind: str
    buffers: dict[str, list[Any]] = field(default_factory=dict)
    step: int = 0


def stand_in_init_state(opt: Any, params: Sequence[np.ndarray]) -> StandInState:
    return StandInState("adam" if hasattr(opt, "betas") else "sgd")


def stand_in_step(
    params: Sequence[np.ndarray], grads: Sequence[np.ndarray], state: Any, opt: Any
) -> tuple[tuple[np.ndarray, ...], StandInState]:
    """torch.optim.SGD / Adam / AdamW's update, on whichever options object it is given."""
    if not isinstance(state, StandInState):
        raise Refused("the loop handed step() a state it did not get from init_state()")
    kind = "adam" if hasattr(opt, "betas") else "sgd"
    if kind != state.kind:
        raise Refused(f"the loop passed {kind} options with a {state.kind} state")
    t = state.step + 1
    new = StandInState(kind, {k: list(v) for k, v in state.buffers.items()}, t)
    out = []
    for i, (theta, grad) in enumerate(zip(params, grads, strict=True)):
        g = -grad if getattr(opt, "maximize", False) else grad
        if kind == "sgd":
            if opt.weight_decay:
                g = g + opt.weight_decay * theta
            if opt.momentum:
                bufs = new.buffers.setdefault("v", [None] * len(params))
                v = bufs[i]
                v = g.copy() if v is None else opt.momentum * v + (1 - opt.dampening) * g
                bufs[i] = v
                g = g + opt.momentum * v if opt.nesterov else v
            out.append(theta - opt.lr * g)
            continue
        b1, b2 = opt.betas
        if opt.weight_decay:
            if getattr(opt, "decoupled", False):
                theta = theta * (1 - opt.lr * opt.weight_decay)
            else:
                g = g + opt.weight_decay * theta
        ms = new.buffers.setdefault("m", [np.zeros_like(p) for p in params])
        vs = new.buffers.setdefault("v", [np.zeros_like(p) for p in params])
        vmax = new.buffers.setdefault("vmax", [np.zeros_like(p) for p in params])
        ms[i] = b1 * ms[i] + (1 - b1) * g
        vs[i] = b2 * vs[i] + (1 - b2) * g * g
        v = vs[i]
        if opt.amsgrad:
            vmax[i] = np.maximum(vmax[i], vs[i])
            v = vmax[i]
        denom = np.sqrt(v) / math.sqrt(1 - b2**t) + opt.eps
        out.append(theta - opt.lr / (1 - b1**t) * ms[i] / denom)
    return tuple(out), new


def stand_in_sgd_step(params: Any, grads: Any, state: Any, opt: Any) -> Any:
    if hasattr(opt, "betas"):
        raise Refused(
            "the loop calls sgd_step() whatever the optimizer: use step(), which dispatches on it"
        )
    return stand_in_step(params, grads, state, opt)


def stand_in_adam_step(params: Any, grads: Any, state: Any, opt: Any) -> Any:
    if not hasattr(opt, "betas"):
        raise Refused("the loop calls adam_step() whatever the optimizer: use step()")
    return stand_in_step(params, grads, state, opt)


STAND_INS: dict[str, object] = {
    "forward": stand_in_forward,
    "backward": stand_in_backward,
    "gradients": stand_in_gradients,
    "init_state": stand_in_init_state,
    "step": stand_in_step,
    "sgd_step": stand_in_sgd_step,
    "adam_step": stand_in_adam_step,
    "sgd_init": stand_in_init_state,
    "adam_init": lambda params, amsgrad=False: StandInState("adam"),
}


def swapped(module: types.ModuleType, names: dict[str, object]) -> None:
    """Put stand-ins in place of the module's own names (only those it has)."""
    for name, value in names.items():
        if hasattr(module, name):
            setattr(module, name, value)


# ------------------------------------------------------------------------------ the probes


def stand_in_predict(model: Any, X: Any) -> Any:
    """Task 15's reference, for the torch loop: eval(), then inference_mode()."""
    import torch  # only the torch tasks reach here; the by-hand ones block torch

    model.eval()
    with torch.inference_mode():
        return model(X)
