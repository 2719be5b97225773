"""Optimizers with exactly torch.optim's semantics, their state made explicit.

One file per family, named as torch.optim names it: sgd.py (SGD), adam.py (Adam, AdamW),
adagrad.py, rmsprop.py, adadelta.py, adamax.py, nadam.py, radam.py, asgd.py, rprop.py. Every
step is a pure function, (params, grads, state, hyperparameters) -> (new params, new state),
and its state's fields are named after the keys torch keeps in optimizer.state[param].
`init_state` and `step` dispatch on the hyperparameters' type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import numpy as np

from manual.optim.adadelta import Adadelta, AdadeltaState, adadelta_init, adadelta_step
from manual.optim.adagrad import Adagrad, AdagradState, adagrad_init, adagrad_step
from manual.optim.adam import Adam, AdamState, adam_init, adam_step
from manual.optim.adamax import Adamax, AdamaxState, adamax_init, adamax_step
from manual.optim.asgd import ASGD, ASGDState, asgd_init, asgd_step
from manual.optim.nadam import NAdam, NAdamState, nadam_init, nadam_step
from manual.optim.radam import RAdam, RAdamState, radam_init, radam_step
from manual.optim.rmsprop import RMSprop, RMSpropState, rmsprop_init, rmsprop_step
from manual.optim.rprop import Rprop, RpropState, rprop_init, rprop_step
from manual.optim.sgd import SGD, SGDState, sgd_direction, sgd_init, sgd_step, sgd_update

Params = tuple[np.ndarray, ...]
__all__ = [
    "ASGD",
    "FAMILIES",
    "SGD",
    "STATES",
    "STATE_KEYS",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamState",
    "Adamax",
    "NAdam",
    "Optimizer",
    "OptimizerState",
    "Params",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGDState",
    "adam_init",
    "adam_step",
    "family_of",
    "init_state",
    "sgd_direction",
    "sgd_init",
    "sgd_step",
    "sgd_update",
    "step",
]  # fmt: skip

Optimizer = SGD | Adam | Adagrad | RMSprop | Adadelta | Adamax | NAdam | RAdam | ASGD | Rprop
OptimizerState = (
    SGDState | AdamState | AdagradState | RMSpropState | AdadeltaState | AdamaxState
    | NAdamState | RAdamState | ASGDState | RpropState
)  # fmt: skip
# The families beyond SGD and Adam, by torch.optim's class name in lower case:
# (hyperparameters, state, init(params, opt), step(params, grads, state, opt)).
FAMILIES: dict[str, tuple[type, type, Callable[..., Any], Callable[..., Any]]] = {
    "adagrad": (Adagrad, AdagradState, adagrad_init, adagrad_step),
    "rmsprop": (RMSprop, RMSpropState, rmsprop_init, rmsprop_step),
    "adadelta": (Adadelta, AdadeltaState, adadelta_init, adadelta_step),
    "adamax": (Adamax, AdamaxState, adamax_init, adamax_step),
    "nadam": (NAdam, NAdamState, nadam_init, nadam_step),
    "radam": (RAdam, RAdamState, radam_init, radam_step),
    "asgd": (ASGD, ASGDState, asgd_init, asgd_step),
    "rprop": (Rprop, RpropState, rprop_init, rprop_step),
}

# Each family's state by the name a checkpoint records (Adam's serves AdamW too), and its
# per-parameter fields: torch's optimizer.state[param] keys ("step" is one count, not per key).
STATES: dict[str, type] = {"sgd": SGDState, "adam": AdamState} | {
    name: family[1] for name, family in FAMILIES.items()
}
STATE_KEYS = {
    name: tuple(f.name for f in fields(cls) if f.name != "step") for name, cls in STATES.items()
}


def family_of(state: OptimizerState) -> str:
    """The family name of a state: sgd, adam, adagrad, …"""
    return next(name for name, cls in STATES.items() if isinstance(state, cls))


def init_state(opt: Optimizer, params: Params) -> OptimizerState:
    """The fresh state for `opt`."""
    if isinstance(opt, Adam):
        return adam_init(params, opt.amsgrad)
    if isinstance(opt, SGD):
        return sgd_init(params)
    _, _, init, _ = next(f for f in FAMILIES.values() if isinstance(opt, f[0]))
    fresh: OptimizerState = init(params, opt)
    return fresh


def step(
    params: Params, grads: Params, state: OptimizerState, opt: Optimizer
) -> tuple[Params, OptimizerState]:
    """One update with whichever optimizer `opt` is; `state` must be that optimizer's."""
    if isinstance(opt, Adam) and isinstance(state, AdamState):
        return adam_step(params, grads, state, opt)
    if isinstance(opt, SGD) and isinstance(state, SGDState):
        return sgd_step(params, grads, state, opt)
    for options, kind, _, update in FAMILIES.values():
        if isinstance(opt, options) and isinstance(state, kind):
            moved: tuple[Params, OptimizerState] = update(params, grads, state, opt)
            return moved
    raise TypeError(f"{type(state).__name__} is not the state of {type(opt).__name__}")
