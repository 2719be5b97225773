"""Tasks 17 and 18: RMSprop's step and the cosine schedule, judged against torch.optim.

Both references are torch's own, run here in the grader's process: torch.optim.RMSprop's
steps and optimizer.state[p] for task 17, torch.optim.lr_scheduler.CosineAnnealingLR's lrs
epoch by epoch for task 18. Every option is drawn over its range each run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from compare.exercises.checks.common import (
    DTYPES,
    Case,
    Fail,
    Plan,
    answer_cases,
    expect_close,
    judged,
    keeps_hint,
    seeded,
)
from compare.exercises.checks.optimizers import drawn, drawn_options, judge_stepped, torch_steps

# --------------------------------------------------------------------------- task 17: RMSprop

# Which options each case turns on; lr, α and ε are drawn in every case (optimizers.RANGES).
RMSPROP_CASES: dict[str, dict[str, Any]] = {
    "rmsprop": {"eps": "large eps"},  # an ε large enough that its place (outside the root) shows
    "centered": {"centered": True},
    "momentum": {"momentum": ...},
    "centered + momentum": {"centered": True, "momentum": ...},
    "weight decay": {"weight_decay": ...},
    "a short memory": {"alpha": "short alpha"},  # a small α: the newest g² dominates
    "maximize": {"maximize": True},
    "maximize + weight decay": {"maximize": True, "weight_decay": ...},
}
RMSPROP_HINTS = {
    "rmsprop": "v = α·v + (1 - α)·g², and ε goes outside the root: θ -= η·g/(√v + ε)",
    "centered": "centered: also keep ḡ = α·ḡ + (1 - α)·g, and divide by √(v - ḡ²) + ε",
    "momentum": "momentum: b = μ·b + g/(√v + ε), then θ -= η·b; the buffer starts at zero",
    "centered + momentum": "centre the root first, then b = μ·b + g/a with a = √(v - ḡ²) + ε",
    "weight decay": "weight decay joins the gradient first: g = ∇θ + λ·θ",
    "a short memory": "use the α you are given: v = α·v + (1 - α)·g²",
    "maximize": "maximize flips the gradient's sign before anything else",
    "maximize + weight decay": "flip the gradient first, then add λ·θ: g = -∇θ + λ·θ",
}
RMS_KEYS = ("square_avg", "momentum_buffer", "grad_avg")
RMS_STEPS = 5


def drawn_rmsprop(rng: np.random.Generator, case: dict[str, Any]) -> dict[str, Any]:
    """A case's RMSprop options, every number drawn: lr, α, ε, and μ and λ where they are on."""
    rest = drawn_options(rng, {k: v for k, v in case.items() if k not in ("alpha", "eps")})
    return {"lr": drawn(rng, "rms lr"), "alpha": drawn(rng, case.get("alpha", "alpha")),
            "eps": drawn(rng, case.get("eps", "eps")), **rest}  # fmt: skip


def build_rmsprop(rng: np.random.Generator) -> Plan:
    cases, refs = [], []
    for case in RMSPROP_CASES.values():
        options = drawn_rmsprop(rng, case)
        d, dt = int(rng.integers(1, 6)), str(rng.choice(DTYPES))
        theta0 = seeded(rng, (d,), dt)
        grads = [seeded(rng, (d,), dt) for _ in range(RMS_STEPS)]
        thetas, states = torch_steps(torch.optim.RMSprop, options, theta0, grads, RMS_KEYS)
        cases.append({"options": options, "theta0": theta0, "grads": grads})
        refs.append((thetas, states, dt))
    return Plan({"cases": cases}, {"refs": refs})


def judge_rmsprop(answer: dict[str, Any], plan: Plan) -> list[Case]:
    return judge_stepped(answer, plan, "rmsprop_step", RMSPROP_CASES, RMSPROP_HINTS, RMS_KEYS)


# -------------------------------------------------------------------- task 18: cosine schedule

# Which regime each case is in; T_max, the base lr and η_min are drawn each run.
COSINE_CASES: dict[str, dict[str, Any]] = {
    "down to zero": {"eta_min": False, "periods": 1.0},
    "down to eta_min": {"eta_min": True, "periods": 1.0},
    "past T_max, back up": {"eta_min": True, "periods": 2.5},  # the cosine goes on past T_max
    "T_max = 1": {"eta_min": True, "periods": 4.0, "T_max": 1},
}
COSINE_HINTS = {
    "down to zero": "η_e = η_min + (η - η_min)·(1 + cos(π·e/T_max))/2, from e = 0 (the base lr)",
    "down to eta_min": "the lr falls to eta_min, not to zero: η_min + (η - η_min)·(1 + cos)/2",
    "past T_max, back up": "past T_max the cosine goes on and the lr climbs back: do not clamp e",
    "T_max = 1": "with T_max = 1 the lr alternates between η and η_min",
}


def build_cosine(rng: np.random.Generator) -> Plan:
    cases, refs = [], []
    for case in COSINE_CASES.values():
        T_max = int(case.get("T_max", rng.integers(3, 30)))
        base = float(np.exp(rng.uniform(np.log(1e-3), np.log(1.0))))
        eta_min = float(base * rng.uniform(0.01, 0.5)) if case["eta_min"] else 0.0
        epochs = math.ceil(case["periods"] * T_max) + 1
        p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        opt = torch.optim.SGD([p], lr=base)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T_max, eta_min=eta_min)
        lrs = []
        for _ in range(epochs):
            lrs.append(float(opt.param_groups[0]["lr"]))
            opt.step()
            sched.step()
        cases.append({"base_lr": base, "T_max": T_max, "eta_min": eta_min, "epochs": epochs})
        refs.append(lrs)
    return Plan({"cases": cases}, {"refs": refs})


def judge_cosine(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs = plan.expected["refs"]
    got = answer_cases(answer, len(refs), "cosine_annealing")
    out = []
    for name, want, mine in zip(COSINE_CASES, refs, got, strict=True):

        def check(want: Any = want, mine: Any = mine) -> float:
            if not isinstance(mine, list) or len(mine) != len(want):
                raise Fail("cosine_annealing must return one lr (a float) per epoch")
            # torch steps the lr recursively, each from the last: it rounds a little at every
            # epoch, far below this bound; the closed form is exact to a few ulps.
            return expect_close(mine, want, "the lr, epoch by epoch", "float64")

        case = judged(name, check, mine)
        if not case.passed and not keeps_hint(case):
            case.hint = COSINE_HINTS[name]
        out.append(case)
    return out
