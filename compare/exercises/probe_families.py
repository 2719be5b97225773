"""The child's side of the stepped optimizers and the schedule: Adam (task 12), RMSprop (17)
and the cosine schedule (18).

As probe.py, which dispatches to these: they only call the student's code and return what it
gave (every θ and state a step returned, every lr), for the parent to judge against torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from compare.exercises.answers import arr, each, student

ADAM_FIELDS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
RMS_FIELDS = ("square_avg", "momentum_buffer", "grad_avg")


def probe_adam(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    optim = student(folder, "optim")

    def init(params: Any, opt: Any) -> Any:
        return optim.adam_init(params, opt.amsgrad)

    return stepped(folder, req, optim.Adam, init, optim.adam_step, ADAM_FIELDS)


def probe_rmsprop(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    optim = student(folder, "optim")
    return stepped(folder, req, optim.RMSprop, optim.rmsprop_init, optim.rmsprop_step, RMS_FIELDS)


def stepped(
    folder: str,
    req: dict[str, Any],
    options: Callable[..., Any],
    init: Callable[[Any, Any], Any],
    step: Callable[[Any, Any, Any, Any], Any],
    names: tuple[str, ...],
) -> dict[str, Any]:
    """Each case's steps through the student's own options, init and step: θ and the state."""

    def one(case: dict[str, Any]) -> dict[str, list[object]]:
        opt = options(**case["options"])
        params = (case["theta0"],)  # the grader's own θ₀: it checks that it comes back as sent
        state = init(params, opt)
        thetas: list[object] = []
        states: list[object] = []
        for grad in case["grads"]:
            got = step(params, (grad,), state, opt)
            if not (isinstance(got, tuple) and len(got) == 2):
                thetas.append(arr(got))
                break
            params, state = got
            thetas.append(arr(params[0]) if isinstance(params, tuple | list) else arr(params))
            states.append(fields_of(state, names))
        return {"thetas": thetas, "states": states}

    outputs = each(folder, req["cases"], one)  # then θ₀ and the gradients as the steps left them:
    return {"cases": outputs, "inputs": [[c["theta0"], *c["grads"]] for c in req["cases"]]}


def fields_of(state: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The state's fields by torch's names, copied: a later step must not change them here."""

    def first(name: str) -> object:
        if not hasattr(state, name):
            return "missing"
        value = getattr(state, name)
        if isinstance(value, list | tuple) and value:
            value = value[0]  # one parameter here: θ
        return value.copy() if isinstance(value, np.ndarray) else None

    step = getattr(state, "step", None)
    return {k: first(k) for k in names} | {"step": step if isinstance(step, int) else None}


def probe_cosine(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    schedulers = student(folder, "schedulers")

    def one(case: dict[str, Any]) -> list[object]:
        lrs: list[object] = []
        for epoch in range(case["epochs"]):
            lr = schedulers.cosine_annealing(epoch, case["base_lr"], case["T_max"],
                                             case["eta_min"])  # fmt: skip
            lrs.append(float(lr) if isinstance(lr, float | int | np.floating) else repr(lr)[:40])
        return lrs

    return {"cases": each(folder, req["cases"], one)}
