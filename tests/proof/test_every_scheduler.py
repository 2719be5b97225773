"""Learning-rate schedulers by hand (manual/schedulers.py) against torch.optim.lr_scheduler.

Two references from torch: the lr a torch scheduler sets epoch by epoch, and whole runs in which
torch's optimizer is stepped by torch's scheduler. A schedule that is wrong by one epoch, or by
its factor, moves the path far more than the 1e-12 asserted here (the last test shows it).
"""

import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

import compare
from compare.config import MAX_SCHEDULED_EPOCHS, ConfigError, RunConfig
from compare.experiment import CHUNK
from manual import schedulers as hand

CASES = {
    "steplr": {"step_size": 30, "gamma": 0.5},
    "multisteplr": {"milestones": [20, 60, 60], "gamma": 0.3},
    "exponentiallr": {"gamma": 0.98},
    "cosineannealinglr": {"T_max": 50, "eta_min": 1e-4},
    "cosineannealingwarmrestarts": {"T_0": 20, "T_mult": 2, "eta_min": 1e-4},
    "linearlr": {"start_factor": 0.1, "total_iters": 40},
    "polynomiallr": {"total_iters": 150, "power": 2.0},
    "reducelronplateau": {"patience": 3, "factor": 0.5, "threshold": 1e-3},
}
CLOSED = [  # each scheduler, with its options, beside torch's own
    (hand.StepLR(7, 0.5), lr_scheduler.StepLR, {"step_size": 7, "gamma": 0.5}),
    (hand.MultiStepLR((5, 9, 9, 30), 0.3), lr_scheduler.MultiStepLR,
     {"milestones": [5, 9, 9, 30], "gamma": 0.3}),
    (hand.ExponentialLR(0.97), lr_scheduler.ExponentialLR, {"gamma": 0.97}),
    (hand.CosineAnnealingLR(25, 1e-4), lr_scheduler.CosineAnnealingLR,
     {"T_max": 25, "eta_min": 1e-4}),
    (hand.CosineAnnealingWarmRestarts(10, 1, 1e-4), lr_scheduler.CosineAnnealingWarmRestarts,
     {"T_0": 10, "T_mult": 1, "eta_min": 1e-4}),
    (hand.CosineAnnealingWarmRestarts(5, 3), lr_scheduler.CosineAnnealingWarmRestarts,
     {"T_0": 5, "T_mult": 3}),
    (hand.LinearLR(0.2, 1.0, 12), lr_scheduler.LinearLR,
     {"start_factor": 0.2, "end_factor": 1.0, "total_iters": 12}),
    (hand.PolynomialLR(40, 2.0), lr_scheduler.PolynomialLR, {"total_iters": 40, "power": 2.0}),
]  # fmt: skip


@pytest.mark.parametrize(("mine", "cls", "kwargs"), CLOSED, ids=[repr(c[0]) for c in CLOSED])
def test_the_closed_form_is_the_lr_torch_sets_each_epoch(mine, cls, kwargs):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    scheduler = cls(opt, **kwargs)
    for epoch in range(120):  # past T_max: the cosine comes back up, as torch's does
        torch_lr = opt.param_groups[0]["lr"]
        assert math.isclose(hand.lr_at(mine, epoch, 0.1), torch_lr, rel_tol=1e-13, abs_tol=1e-18)
        opt.step()
        scheduler.step()


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
def test_the_plateau_cuts_when_torch_cuts(mode, threshold_mode):
    rng = np.random.default_rng(5)
    metrics = np.cumsum(rng.normal(-0.01 if mode == "min" else 0.01, 0.05, 150))
    s = hand.ReduceLROnPlateau(mode, 0.5, 4, 1e-2, threshold_mode, cooldown=2, min_lr=1e-3)
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    ref = lr_scheduler.ReduceLROnPlateau(opt, mode, 0.5, 4, 1e-2, threshold_mode, 2, 1e-3)
    state, cuts = hand.plateau_init(s, 0.1), 0
    for metric in metrics:
        ref.step(float(metric))
        before = state.lr
        state = hand.plateau_step(s, state, float(metric))
        cuts += state.lr < before
        assert state.lr == opt.param_groups[0]["lr"]
    assert cuts >= 2  # the sequence does stall, so the cut logic was exercised


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "nadam"])
@pytest.mark.parametrize(("name", "args"), CASES.items(), ids=CASES)
def test_a_scheduled_run_is_torchs_in_float64(name, args, optimizer):
    settings = {"optimizer": optimizer, "dtype": "float64", "features": 3, "noise": 0.1,
                "epochs": 200, "loss": "mse", "lr": 0.01}  # fmt: skip
    c = compare.run(scheduler=name, scheduler_args=args, **settings)
    assert c.max_param_diff <= 1e-12
    constant = compare.run(**settings)
    assert np.abs(c.manual.weight[-1] - constant.manual.weight[-1]).max() > 1e-4  # it scheduled


def test_a_schedule_off_by_one_epoch_is_caught(monkeypatch):
    """The check can fail: a hand schedule one epoch late leaves torch's path at once."""
    late = hand.lr_at
    monkeypatch.setattr("manual.train.lr_at", lambda s, e, base: late(s, max(e - 1, 0), base))
    c = compare.run(scheduler="steplr", scheduler_args={"step_size": 10}, dtype="float64",
                    epochs=30)  # fmt: skip
    assert c.max_param_diff > 1e-6


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"scheduler": "steplr"}, "needs --scheduler-args step_size="),
        ({"scheduler_args": {"gamma": 0.5}}, "needs a --scheduler"),
        ({"scheduler": "steplr", "scheduler_args": {"step": 3}}, "steplr takes step_size, gamma"),
        ({"scheduler": "cosineannealinglr", "scheduler_args": {"T_max": 0}}, "whole number >= 1"),
        ({"scheduler": "multisteplr", "scheduler_args": {"milestones": 30}}, "give epochs"),
        ({"scheduler": "exponentiallr", "scheduler_args": {"gamma": 0}}, "a factor > 0"),
        ({"scheduler": "reducelronplateau", "scheduler_args": {"mode": "up"}}, "refuses them"),
        ({"scheduler": "linearlr", "epochs": MAX_SCHEDULED_EPOCHS + 1}, "at most 10,000 epochs"),
        ({"scheduler": "lambdalr"}, "choose one of steplr"),
        ({"scheduler": "onecyclelr"}, "needs --scheduler-args max_lr="),
        (
            {"scheduler": "onecyclelr", "optimizer": "adagrad", "scheduler_args": {"max_lr": 0.1}},
            "must support momentum",
        ),
    ],
)
def test_a_wrong_scheduler_setting_is_one_line(settings, needle):
    with pytest.raises(ConfigError) as caught:
        RunConfig(**settings)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_a_schedule_never_spans_two_chunks_of_a_run():
    assert MAX_SCHEDULED_EPOCHS <= CHUNK
