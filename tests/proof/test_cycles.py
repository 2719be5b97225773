"""OneCycleLR and CyclicLR by hand (manual/cycles.py) against torch.optim.lr_scheduler.

The references are torch's own: the lr and the momentum (or β1) its scheduler writes into
param_groups at every step, and whole float64 runs stepped by torch's scheduler.
"""

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

import compare
from manual import cycles as hand
from manual.optim import SGD, Adam

STEPS = 97
ONE: list[dict[str, Any]] = [
    {"max_lr": 0.1},
    {"max_lr": 0.2, "pct_start": 0.25, "anneal_strategy": "linear", "div_factor": 10.0},
    {"max_lr": 0.1, "three_phase": True, "final_div_factor": 100.0},
    {"max_lr": 0.1, "cycle_momentum": False},
]
CYC: list[dict[str, Any]] = [
    {"base_lr": 0.001, "max_lr": 0.1, "step_size_up": 10},
    {
        "base_lr": 0.001,
        "max_lr": 0.1,
        "step_size_up": 7,
        "step_size_down": 13,
        "mode": "triangular2",
    },
    {"base_lr": 0.001, "max_lr": 0.1, "step_size_up": 5, "mode": "exp_range", "gamma": 0.97},
    {
        "base_lr": 0.01,
        "max_lr": 0.05,
        "step_size_up": 4,
        "base_momentum": 0.5,
        "max_momentum": 0.95,
    },
]


def group_values(make, kwargs, adam):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.1) if adam else torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = make(opt, **kwargs)
    out = []
    for _ in range(STEPS):
        g = opt.param_groups[0]
        out.append((g["lr"], g["betas"][0] if adam else g["momentum"]))
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize("adam", [False, True], ids=["sgd-momentum", "adam-beta1"])
@pytest.mark.parametrize(
    ("mine", "make", "kwargs"),
    [
        *[
            (hand.OneCycleLR(**k), lr_scheduler.OneCycleLR, {**k, "total_steps": STEPS})
            for k in ONE
        ],
        *[(hand.CyclicLR(**k), lr_scheduler.CyclicLR, k) for k in CYC],
    ],
    ids=[f"onecycle{i}" for i in range(len(ONE))] + [f"cyclic{i}" for i in range(len(CYC))],
)
def test_the_closed_form_is_what_torch_writes_each_step(mine, make, kwargs, adam):
    opt = Adam(lr=0.1) if adam else SGD(lr=0.1, momentum=0.9)
    for t, (lr, momentum) in enumerate(group_values(make, kwargs, adam)):
        got = hand.cycle_at(mine, t, opt, STEPS)
        assert math.isclose(got.lr, lr, rel_tol=1e-12, abs_tol=1e-18), t
        mine_m = got.betas[0] if adam else got.momentum
        assert math.isclose(mine_m, momentum, rel_tol=1e-12), t


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize(
    ("name", "args"),
    [("onecyclelr", {"max_lr": 0.05}), ("onecyclelr", {"max_lr": 0.05, "three_phase": True}),
     ("cycliclr", {"base_lr": 0.001, "max_lr": 0.05, "step_size_up": 15})],
    ids=["onecycle", "onecycle-three-phase", "cyclic"],
)  # fmt: skip
def test_a_cyclical_run_is_torchs_in_float64(name, args, optimizer):
    settings = {"optimizer": optimizer, "dtype": "float64", "features": 3, "noise": 0.1,
                "epochs": 200, "loss": "mse", "lr": 0.01}  # fmt: skip
    c = compare.run(scheduler=name, scheduler_args=args, **settings)
    assert c.max_param_diff <= 1e-12
    constant = compare.run(**settings)
    path, flat = np.array(c.manual.weight), np.array(constant.manual.weight)
    assert np.abs(path - flat).max() > 1e-3  # it cycled: the paths part on the way


def test_a_cycle_that_forgets_the_momentum_is_caught(monkeypatch):
    """The check can fail: the lr right but the momentum left alone leaves torch's path."""
    real = hand.cycle_at

    def lr_only(s, t, opt, total):
        return real(s, t, opt, total) if not s.cycle_momentum else type(opt)(
            **{**vars(opt), "lr": real(s, t, opt, total).lr})  # fmt: skip

    monkeypatch.setattr("manual.train.cycle_at", lr_only)
    c = compare.run(scheduler="onecyclelr", scheduler_args={"max_lr": 0.05}, optimizer="sgd",
                    momentum=0.9, dtype="float64", epochs=60)  # fmt: skip
    assert c.max_param_diff > 1e-6


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize(
    ("name", "args"),
    [("onecyclelr", {"max_lr": 0.05}),
     ("cycliclr", {"base_lr": 0.001, "max_lr": 0.05, "step_size_up": 15})],
    ids=["onecycle", "cyclic"],
)  # fmt: skip
def test_with_mini_batches_a_cycle_steps_after_every_batch(name, args, optimizer):
    """torch's docs step OneCycleLR and CyclicLR after every batch: with --batch-size both sides
    do (40 rows in batches of 6: 7 steps an epoch, the cycle 7 × 30 steps long)."""
    settings = {"optimizer": optimizer, "dtype": "float64", "features": 3, "noise": 0.1,
                "epochs": 30, "loss": "mse", "lr": 0.01, "batch_size": 6, "shuffle": True,
                "momentum": 0.9 if optimizer == "sgd" else 0.0}  # fmt: skip
    c = compare.run(scheduler=name, scheduler_args=args, **settings)
    assert c.max_param_diff <= 1e-12


def test_a_cycle_stepped_per_epoch_under_mini_batches_is_caught(monkeypatch):
    """The check can fail: the hand side stepping its cycle per epoch, not per batch, leaves
    torch's path."""
    import manual.optim

    def per_epoch(params, grads, state, opt):  # the cycle read at the epoch (7 batches each)
        at = hand.cycle_at(opt.cycle, state.step // 7 * 7, opt.opt, opt.total)
        return manual.optim.step(params, grads, state, at)

    monkeypatch.setattr("manual.train.step", per_epoch)
    c = compare.run(scheduler="onecyclelr", scheduler_args={"max_lr": 0.05}, optimizer="sgd",
                    momentum=0.9, dtype="float64", epochs=30, batch_size=6)  # fmt: skip
    assert c.max_param_diff > 1e-6


def test_a_cycle_too_short_for_its_batches_is_one_line():
    with pytest.raises(compare.config.ConfigError) as caught:
        compare.config.RunConfig(scheduler="onecyclelr", batch_size=6, epochs=30,
                                 scheduler_args={"max_lr": 0.05, "total_steps": 30})  # fmt: skip
    assert "steps its cycle 210 times (30 epochs × 7 batches)" in str(caught.value)
