"""Optimizers with exactly torch.optim's semantics, their state made explicit.

One file per family: sgd.py (SGD), adam.py (Adam, AdamW). Every step is a pure function,
(params, grads, state, hyperparameters) -> (new params, new state), and its state's fields are
named after the keys torch keeps in optimizer.state[param]. `step` dispatches on the options.
"""

from __future__ import annotations

import numpy as np

from manual.optim.adam import Adam, AdamState, adam_init, adam_step
from manual.optim.sgd import SGD, SGDState, sgd_direction, sgd_init, sgd_step, sgd_update

Params = tuple[np.ndarray, ...]
__all__ = [
    "SGD", "Adam", "AdamState", "Optimizer", "OptimizerState", "Params", "SGDState",
    "adam_init", "adam_step", "init_state", "sgd_direction", "sgd_init", "sgd_step",
    "sgd_update", "step",
]  # fmt: skip


Optimizer = SGD | Adam
OptimizerState = SGDState | AdamState


def init_state(opt: Optimizer, params: Params) -> OptimizerState:
    """The fresh state for `opt`."""
    return adam_init(params, opt.amsgrad) if isinstance(opt, Adam) else sgd_init(params)


def step(
    params: Params, grads: Params, state: OptimizerState, opt: Optimizer
) -> tuple[Params, OptimizerState]:
    """One update with whichever optimizer `opt` is; `state` must be that optimizer's."""
    if isinstance(opt, Adam) and isinstance(state, AdamState):
        return adam_step(params, grads, state, opt)
    if isinstance(opt, SGD) and isinstance(state, SGDState):
        return sgd_step(params, grads, state, opt)
    raise TypeError(f"{type(state).__name__} is not the state of {type(opt).__name__}")
