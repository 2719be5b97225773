"""Cyclical schedules, as torch.optim.lr_scheduler's OneCycleLR and CyclicLR compute them.

Both move the lr and, against it, the momentum (SGD's momentum, Adam's β1): when the lr is
high the momentum is low. torch rewrites param_groups' "lr" and "momentum" / "betas" at each
scheduler.step(); here `cycle_at` is a pure function of the step count t. torch's docs step
them after every batch (PerBatch); in the course's full-batch run a batch is an epoch. Names,
fields and defaults are torch's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar


@dataclass(frozen=True)
class OneCycleLR:
    max_lr: float  # the peak lr; it starts at max_lr / div_factor
    total_steps: int | None = None  # steps in the cycle (the run's epochs when None)
    pct_start: float = 0.3  # the share of the cycle spent climbing
    anneal_strategy: str = "cos"  # cos | linear: the shape of each phase
    cycle_momentum: bool = True  # move the momentum against the lr
    base_momentum: float = 0.85  # the momentum at the lr's peak …
    max_momentum: float = 0.95  # … and at its ends
    div_factor: float = 25.0  # initial lr = max_lr / div_factor
    final_div_factor: float = 1e4  # the last lr = initial lr / final_div_factor
    three_phase: bool = False  # climb, come back to the initial lr, then anneal to the last


@dataclass(frozen=True)
class CyclicLR:
    base_lr: float  # the low end of each cycle (it replaces the optimizer's lr)
    max_lr: float  # the high end
    step_size_up: int = 2000  # steps from base_lr up to max_lr …
    step_size_down: int | None = None  # … and back down (step_size_up when None)
    mode: str = "triangular"  # triangular | triangular2 (halves each cycle) | exp_range
    gamma: float = 1.0  # exp_range: the height shrinks by γ every step
    scale_mode: str = "cycle"  # what the scale is a function of (exp_range: iterations)
    cycle_momentum: bool = True  # move the momentum against the lr
    base_momentum: float = 0.8  # the momentum at the lr's peak …
    max_momentum: float = 0.9  # … and at base_lr


Cycle = OneCycleLR | CyclicLR
Opt = TypeVar("Opt")


def anneal(start: float, end: float, pct: float, strategy: str) -> float:
    """cos: end + (start - end)·(1 + cos(π·pct))/2;  linear: start + (end - start)·pct."""
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def one_cycle(s: OneCycleLR, t: int, total: int) -> tuple[float, float]:
    """(lr, momentum) after t steps: each phase anneals from its start to its end value.

    two phases: initial → max over the first pct_start·T steps, then max → min (momentum:
    max → base, then back); three: initial → max → initial → min, momentum max → base → max.
    """
    initial = s.max_lr / s.div_factor
    least = initial / s.final_div_factor
    hi, lo = s.max_momentum, s.base_momentum
    if s.three_phase:
        phases = [(float(s.pct_start * total) - 1, initial, s.max_lr, hi, lo),
                  (float(2 * s.pct_start * total) - 2, s.max_lr, initial, lo, hi),
                  (total - 1, initial, least, hi, hi)]  # fmt: skip
    else:
        phases = [(float(s.pct_start * total) - 1, initial, s.max_lr, hi, lo),
                  (total - 1, s.max_lr, least, lo, hi)]  # fmt: skip
    start = 0.0
    for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
        if t <= end or i == len(phases) - 1:
            pct = (t - start) / (end - start)
            return anneal(lr0, lr1, pct, s.anneal_strategy), anneal(m0, m1, pct, s.anneal_strategy)
        start = end
    raise AssertionError("unreachable")


def cyclic(s: CyclicLR, t: int) -> tuple[float, float]:
    """(lr, momentum) after t steps of triangles between base_lr and max_lr.

    cycle = ⌊1 + t/(up + down)⌋,  x = 1 + t/(up + down) - cycle ∈ [0, 1)
    rise = x/r up the first r = up/(up + down) of a cycle, else (x - 1)/(r - 1) on the way down
    lr = base + (max - base)·rise·scale,  momentum = max_m - (max_m - base_m)·rise·scale
    scale: 1 (triangular), 1/2^(cycle-1) (triangular2), γ^t (exp_range)
    """
    up = float(s.step_size_up)
    total = up + (float(s.step_size_down) if s.step_size_down is not None else up)
    ratio = up / total
    cycle = math.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    rise = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    if s.mode == "triangular":
        scale = 1.0
    elif s.mode == "triangular2":
        scale = 1 / (2.0 ** (cycle - 1))
    else:
        scale = s.gamma**t
    lr = s.base_lr + (s.max_lr - s.base_lr) * rise * scale
    return lr, s.max_momentum - (s.max_momentum - s.base_momentum) * rise * scale


def schedule_steps(s: Cycle, epochs: int) -> int:
    """The steps in OneCycleLR's cycle: its total_steps, else the run's epochs."""
    return s.total_steps if isinstance(s, OneCycleLR) and s.total_steps else epochs


def cycle_at(s: Cycle, t: int, opt: Opt, total: int) -> Opt:
    """The optimizer's hyperparameters after t scheduler steps: the lr, and its momentum (or
    β1) when the cycle moves it, as torch writes them into param_groups."""
    lr, momentum = one_cycle(s, t, total) if isinstance(s, OneCycleLR) else cyclic(s, t)
    changes: dict[str, Any] = {"lr": lr}
    names = {f.name for f in fields(opt)}  # type: ignore[arg-type]
    if s.cycle_momentum and "betas" in names:
        changes["betas"] = (momentum, opt.betas[1])  # type: ignore[attr-defined]
    elif s.cycle_momentum and "momentum" in names:
        changes["momentum"] = momentum
    return replace(opt, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class PerBatch:
    """An optimizer whose cycle is stepped after every batch: before step t (t steps taken, the
    state's `step`), its hyperparameters are cycle_at(cycle, t, opt, total)."""

    opt: Any  # the optimizer's own hyperparameters (SGD, Adam, …)
    cycle: Cycle  # OneCycleLR or CyclicLR
    total: int  # the steps in the cycle: epochs × batches per epoch, unless total_steps says
