"""Learning-rate schedules as torch.optim.lr_scheduler computes them, epoch by epoch.

torch's schedulers rewrite param_groups[i]["lr"] at each scheduler.step(). Here a schedule is a
pure function, the lr of epoch e (after e steps) in closed form, in `lr_at`; ReduceLROnPlateau
watches the test loss instead, its state explicit. Names, fields and defaults are torch's."""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class StepLR:
    step_size: int  # every step_size epochs …
    gamma: float = 0.1  # … the lr is multiplied by γ


@dataclass(frozen=True)
class MultiStepLR:
    milestones: tuple[int, ...]  # at each of these epochs …
    gamma: float = 0.1  # … the lr is multiplied by γ


@dataclass(frozen=True)
class ExponentialLR:
    gamma: float  # every epoch the lr is multiplied by γ


@dataclass(frozen=True)
class CosineAnnealingLR:
    T_max: int  # epochs from the base lr down to eta_min (half a cosine period)
    eta_min: float = 0.0  # the lowest lr


@dataclass(frozen=True)
class CosineAnnealingWarmRestarts:
    T_0: int  # epochs in the first cosine, from the base lr down to eta_min …
    T_mult: int = 1  # … each later one this many times longer, restarting at the base lr
    eta_min: float = 0.0  # the lowest lr


@dataclass(frozen=True)
class LinearLR:
    start_factor: float = 1.0 / 3  # the lr starts at base·start_factor …
    end_factor: float = 1.0  # … and reaches base·end_factor …
    total_iters: int = 5  # … after this many epochs, then stays


@dataclass(frozen=True)
class PolynomialLR:
    total_iters: int = 5  # epochs until the lr reaches 0
    power: float = 1.0  # the polynomial's degree: 1 is a straight line down


Schedule = (
    StepLR | MultiStepLR | ExponentialLR | CosineAnnealingLR | CosineAnnealingWarmRestarts
    | LinearLR | PolynomialLR
)  # fmt: skip


def cosine_annealing(epoch: int, base_lr: float, T_max: int, eta_min: float = 0.0) -> float:
    """CosineAnnealingLR's lr of epoch e: η_min + (η - η_min)·(1 + cos(π·e/T_max))/2, from η
    down to η_min over T_max epochs; past T_max it climbs back (e is not clamped, as torch's)."""
    # BEGIN SOLUTION task-18
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * epoch / T_max)) / 2
    # END SOLUTION


def warm_restart_position(s: CosineAnnealingWarmRestarts, epoch: int) -> tuple[int, int]:
    """(T_cur, T_i) at epoch e: from (e, T_0), while T_cur ≥ T_i: T_cur -= T_i, T_i ·= T_mult."""
    t, T = epoch, s.T_0
    while t >= T:
        t, T = t - T, T * s.T_mult
    return t, T


def lr_at(schedule: Schedule, epoch: int, base_lr: float) -> float:
    """The lr of epoch `epoch` (0 = before any scheduler.step()).

    StepLR           η·γ^⌊e/step_size⌋          MultiStepLR  η·γ^(milestones passed)
    ExponentialLR    η·γ^e                      LinearLR     η·(s + (f - s)·min(e, T)/T)
    PolynomialLR  η·(1 - min(e, T)/T)^power;  CosineAnnealing(WarmRestarts)  cosine_annealing
    """
    s = schedule
    if isinstance(s, StepLR):
        return base_lr * s.gamma ** (epoch // s.step_size)
    if isinstance(s, MultiStepLR):
        return base_lr * s.gamma ** bisect_right(sorted(s.milestones), epoch)
    if isinstance(s, ExponentialLR):
        return base_lr * s.gamma**epoch
    if isinstance(s, CosineAnnealingLR):
        return cosine_annealing(epoch, base_lr, s.T_max, s.eta_min)
    if isinstance(s, CosineAnnealingWarmRestarts):  # t: epochs into the current cosine of T
        t, T = warm_restart_position(s, epoch)
        return s.eta_min + (base_lr - s.eta_min) * (1 + math.cos(math.pi * t / T)) / 2
    if isinstance(s, LinearLR):
        done = min(s.total_iters, epoch) / s.total_iters
        return base_lr * (s.start_factor + (s.end_factor - s.start_factor) * done)
    left: float = (1.0 - min(s.total_iters, epoch) / s.total_iters) ** s.power
    return base_lr * left


@dataclass(frozen=True)
class ReduceLROnPlateau:
    mode: str = "min"  # min: a smaller metric is better (a loss); max: a larger one
    factor: float = 0.1  # the lr is multiplied by this when the metric stalls
    patience: int = 10  # epochs without improvement that are tolerated
    threshold: float = 1e-4  # how much better counts as better …
    threshold_mode: str = "rel"  # … relative to the best (rel) or in absolute terms (abs)
    cooldown: int = 0  # epochs after a cut in which stalls are not counted
    min_lr: float = 0.0  # the lr never goes below this
    eps: float = 1e-8  # a cut smaller than this is not made


@dataclass(frozen=True)
class PlateauState:
    lr: float  # the lr now
    best: float  # the best metric seen
    num_bad_epochs: int = 0  # epochs since it improved
    cooldown_counter: int = 0  # epochs of cooldown left


def plateau_init(schedule: ReduceLROnPlateau, base_lr: float) -> PlateauState:
    return PlateauState(base_lr, math.inf if schedule.mode == "min" else -math.inf)


def plateau_step(s: ReduceLROnPlateau, state: PlateauState, metric: float) -> PlateauState:
    """After an epoch: better means beyond the best by the threshold; patience stalls cut the lr.

    better (min, rel): m < best·(1 - threshold)    (abs: m < best - threshold; max mirrors it)
    a stall: bad += 1 (not counted in cooldown);  bad > patience: lr = max(lr·factor, min_lr)
    """
    sign = 1 if s.mode == "min" else -1
    if s.threshold_mode == "rel":
        edge = state.best * (1.0 - sign * s.threshold)
    else:
        edge = state.best - sign * s.threshold
    better = metric < edge if s.mode == "min" else metric > edge
    best, bad = (metric, 0) if better else (state.best, state.num_bad_epochs + 1)
    cooldown = state.cooldown_counter
    if cooldown > 0:
        cooldown, bad = cooldown - 1, 0
    lr = state.lr
    if bad > s.patience:
        new_lr = max(lr * s.factor, s.min_lr)
        lr = new_lr if lr - new_lr > s.eps else lr
        cooldown, bad = s.cooldown, 0
    return replace(state, lr=lr, best=best, num_bad_epochs=bad, cooldown_counter=cooldown)
