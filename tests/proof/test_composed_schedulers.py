"""SequentialLR and ChainedScheduler by hand (manual/compose.py) against torch's own.

References: the lr torch's composed scheduler sets epoch by epoch, over parts of every kind,
and whole float64 runs stepped by torch's scheduler, configured as the CLI configures them.
"""

import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as L

import compare
from compare.config import ConfigError, RunConfig
from manual import schedulers as hand
from manual.compose import ChainedScheduler, SequentialLR, composed_lr

CASES = [
    (SequentialLR((hand.LinearLR(0.1, 1.0, 10), hand.CosineAnnealingLR(90, 1e-4)), (10,)),
     lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=10),
                                  L.CosineAnnealingLR(o, T_max=90, eta_min=1e-4)], [10])),
    (SequentialLR((hand.StepLR(5, 0.5), hand.ExponentialLR(0.97), hand.MultiStepLR((10, 20), 0.3)), (7, 30)),
     lambda o: L.SequentialLR(o, [L.StepLR(o, 5, 0.5), L.ExponentialLR(o, 0.97),
                                  L.MultiStepLR(o, [10, 20], 0.3)], [7, 30])),
    (SequentialLR((hand.ExponentialLR(0.9), hand.CosineAnnealingWarmRestarts(10, 2)), (15,)),
     lambda o: L.SequentialLR(o, [L.ExponentialLR(o, 0.9), L.CosineAnnealingWarmRestarts(o, 10, 2)], [15])),
    (SequentialLR((hand.ExponentialLR(0.9), hand.LinearLR(0.5, 1.0, 20)), (15,)),
     lambda o: L.SequentialLR(o, [L.ExponentialLR(o, 0.9), L.LinearLR(o, 0.5, total_iters=20)], [15])),
    (ChainedScheduler((hand.LinearLR(0.2, 1.0, 10), hand.ExponentialLR(0.98))),
     lambda o: L.ChainedScheduler([L.LinearLR(o, 0.2, total_iters=10), L.ExponentialLR(o, 0.98)], optimizer=o)),
    (ChainedScheduler((hand.StepLR(7, 0.5), hand.PolynomialLR(120, 2.0), hand.MultiStepLR((30, 60), 0.1))),
     lambda o: L.ChainedScheduler([L.StepLR(o, 7, 0.5), L.PolynomialLR(o, 120, 2.0),
                                   L.MultiStepLR(o, [30, 60], 0.1)], optimizer=o)),
]  # fmt: skip


@pytest.mark.parametrize(("mine", "make"), CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_the_closed_form_is_the_lr_torch_sets_each_epoch(mine, make):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    scheduler = make(opt)
    for epoch in range(110):
        torch_lr = opt.param_groups[0]["lr"]
        assert math.isclose(composed_lr(mine, epoch, 0.1), torch_lr, rel_tol=1e-13, abs_tol=1e-18)
        opt.step()
        scheduler.step()


RUNS = {
    "warm-up then cosine": ("sequentiallr", {
        "schedulers": ["linearlr", "cosineannealinglr"], "milestones": [10],
        "linearlr.start_factor": 0.1, "linearlr.total_iters": 10, "cosineannealinglr.T_max": 190}),
    "the same part twice": ("sequentiallr", {
        "schedulers": ["steplr", "steplr"], "milestones": [50],
        "0.step_size": 10, "1.step_size": 30, "1.gamma": 0.5}),
    "a chain": ("chainedscheduler", {
        "schedulers": ["linearlr", "exponentiallr"], "exponentiallr.gamma": 0.99}),
}  # fmt: skip


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("case", RUNS)
def test_a_composed_run_is_torchs_in_float64(case, optimizer):
    name, args = RUNS[case]
    settings = {"optimizer": optimizer, "dtype": "float64", "features": 3, "noise": 0.1,
                "epochs": 200, "loss": "mse", "lr": 0.01}  # fmt: skip
    c = compare.run(scheduler=name, scheduler_args=args, **settings)
    assert c.max_param_diff <= 1e-12
    flat = compare.run(**settings)
    assert np.abs(np.array(c.manual.weight) - np.array(flat.manual.weight)).max() > 1e-4


def test_a_sequence_that_does_not_restart_its_part_is_caught(monkeypatch):
    """The check can fail: a part run on the global epoch instead of its own leaves torch's path."""
    monkeypatch.setattr("manual.train.composed_lr",
                        lambda s, e, base: hand.lr_at(s.schedulers[int(e >= 10)], e, base))  # fmt: skip
    name, args = RUNS["warm-up then cosine"]
    c = compare.run(scheduler=name, scheduler_args=args, dtype="float64", epochs=60)
    assert c.max_param_diff > 1e-6


@pytest.mark.parametrize(
    ("name", "args", "needle"),
    [
        (
            "sequentiallr",
            {"schedulers": ["linearlr", "steplr"], "steplr.step_size": 5},
            "give 1 increasing epochs",
        ),
        (
            "sequentiallr",
            {"schedulers": ["linearlr", "reducelronplateau"], "milestones": [3]},
            "give a list of steplr",
        ),
        ("sequentiallr", {"schedulers": ["steplr"], "milestones": []}, "steplr.step_size=…"),
        (
            "sequentiallr",
            {"schedulers": ["linearlr"], "milestones": [], "cosine.T_max": 3},
            "no such part",
        ),
        (
            "sequentiallr",
            {"schedulers": ["steplr", "steplr"], "milestones": [3], "steplr.step_size": 2},
            "by position",
        ),
        (
            "sequentiallr",
            {"schedulers": ["linearlr"], "milestones": [], "linearlr.total_iters": 0},
            "linearlr.total_iters=0",
        ),
        (
            "chainedscheduler",
            {"schedulers": ["cosineannealinglr"]},
            "give a list of steplr, multisteplr, exponentiallr, linearlr",
        ),
        ("chainedscheduler", {"milestones": [3]}, "takes schedulers=[…]"),
    ],
)
def test_a_wrong_composed_setting_is_one_line(name, args, needle):
    with pytest.raises(ConfigError) as caught:
        RunConfig(scheduler=name, scheduler_args=args)
    assert needle in str(caught.value) and "\n" not in str(caught.value), str(caught.value)
