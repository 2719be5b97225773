"""Resume and cross-load for every optimizer family and every scheduler, in torch's layout.

A run is saved after 8 epochs by one side and continued for 12 by either. The reference is the
uninterrupted 20-epoch run:
- on the same side the continued run is that run bit for bit: the same code on the same values,
  with the state carried exactly (float64 in, float64 out), so no rounding can differ;
- on the other side it is the other side's uninterrupted run within 1e-12, the agreement bound
  of the whole-run proofs (tests/proof/test_every_optimizer.py, test_every_scheduler.py).
The settings are the stable ones of those proofs (MSE, noisy three-feature data): Rprop under
L1 flips on the sign of a gradient that is zero in exact arithmetic, which no two
implementations can agree on (that file's docstring), resumed or not.
The record a manual run writes is checked key by key against torch's own scheduler.state_dict().
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import safetensors
import torch

import compare.one_side as one_side
from compare.config import RunConfig
from compare.experiment import (
    ScheduleStart,
    initial_model,
    make_data,
    make_torch_optimizer,
    make_torch_scheduler,
    start_of,
    train_manual,
)
from compare.optim_args import parse
from manual.optim import STATE_KEYS as MANUAL_KEYS
from torch_impl.optim import OPTIMIZERS
from torch_impl.optim import STATE_KEYS as TORCH_KEYS

BEFORE, AFTER = 8, 12
# Each family with the options that give it the most state to carry.
FAMILIES = {
    "sgd": "momentum=0.9 nesterov=True",
    "adam": "amsgrad=True",
    "adamw": "amsgrad=True betas=(0.8,0.99)",
    "adagrad": "lr_decay=0.01 initial_accumulator_value=0.5",
    "rmsprop": "centered=True momentum=0.5",
    "adadelta": "rho=0.5",
    "adamax": "betas=(0.8,0.99)",
    "nadam": "momentum_decay=0.01 decoupled_weight_decay=True",
    "radam": "decoupled_weight_decay=True",
    "asgd": "t0=3 lambd=0.1",
    "rprop": "etas=(0.3,1.5)",
}
# Each scheduler with arguments that move the lr on both sides of epoch 8.
SCHEDULERS = {
    "steplr": "step_size=3",
    "multisteplr": "milestones=[2,9,15]",
    "exponentiallr": "gamma=0.9",
    "cosineannealinglr": "T_max=7",
    "cosineannealingwarmrestarts": "T_0=3 T_mult=2",
    "linearlr": "total_iters=12",
    "polynomiallr": "total_iters=15 power=2.0",
    "onecyclelr": "max_lr=0.1 total_steps=TOTAL",
    "cycliclr": "base_lr=0.001 max_lr=0.05 step_size_up=3",
    "reducelronplateau": "patience=0 factor=0.5 threshold=0.3",
    "sequentiallr": "schedulers=[linearlr,steplr] milestones=[5] linearlr.total_iters=5 "
    "steplr.step_size=2",
    "chainedscheduler": "schedulers=[steplr,exponentiallr] steplr.step_size=4 "
    "exponentiallr.gamma=0.95",
}
LR = {"adadelta": 1.0}  # torch's default: its steps are RMS ratios, tiny with lr 0.01
SAVES = [("manual", ".safetensors"), ("torch", ".pth"), ("torch", ".safetensors")]


def settings(optimizer="sgd", optim_args="", scheduler=None, scheduler_args="", batch_size=None):
    per_epoch = 7 if batch_size and scheduler in ("onecyclelr", "cycliclr") else 1
    args = scheduler_args.replace("TOTAL", str((BEFORE + AFTER) * per_epoch))
    return dict(dtype="float64", loss="mse", lr=0.01, features=3, noise=0.1,
                optimizer=optimizer, optim_args=parse(optim_args.split()),
                scheduler=scheduler, scheduler_args=parse(args.split()),
                batch_size=batch_size, shuffle=batch_size is not None)  # fmt: skip


def path_of(run):
    return np.column_stack([run.trajectory.weight, run.trajectory.bias])


def resumed_everywhere(tmp_path, base):
    """{(saved by, file, resumed by): continued epochs}, and each side's uninterrupted run."""
    whole = {side: path_of(one_side.train_single(RunConfig(epochs=BEFORE + AFTER, **base), side))
             for side in ("manual", "torch")}  # fmt: skip
    out = {}
    for saver, suffix in SAVES:
        path = tmp_path / f"{saver}{suffix}"
        one_side.train_single(RunConfig(epochs=BEFORE, **base), saver, save=path)
        for side in ("manual", "torch"):
            again = one_side.train_single(
                RunConfig(epochs=AFTER, **base), side, resume=path, given=frozenset({"epochs"})
            )
            assert again.first_epoch == BEFORE
            out[(saver, suffix, side)] = path_of(again)
    return out, whole


def assert_continues(out, whole):
    for (saver, suffix, side), continued in out.items():
        want = whole[side][BEFORE:]
        where = f"saved by {saver} as {suffix}, resumed by {side}"
        if saver == side:  # the same code on the same values: nothing can round differently
            np.testing.assert_array_equal(continued, want, err_msg=where)
        else:
            np.testing.assert_allclose(continued, want, rtol=0, atol=1e-12, err_msg=where)


@pytest.mark.parametrize("name", FAMILIES)
def test_every_optimizer_resumes_and_cross_loads(tmp_path, name):
    base = settings(name, FAMILIES[name]) | {"lr": LR.get(name, 0.01)}
    out, whole = resumed_everywhere(tmp_path, base)
    assert np.abs(whole["torch"][-1] - whole["torch"][0]).max() > 1e-3  # it really trained
    assert_continues(out, whole)


@pytest.mark.parametrize("batch_size", [None, 6], ids=["full batch", "batches of 6"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_scheduler_resumes_and_cross_loads(tmp_path, name, optimizer, batch_size):
    momentum = "momentum=0.9" if optimizer == "sgd" else ""
    base = settings(optimizer, momentum, name, SCHEDULERS[name], batch_size)
    out, whole = resumed_everywhere(tmp_path, base)
    assert_continues(out, whole)
    # The schedule moved the lr before the save and again after it: the state mattered.
    lrs = [_saved_lr(tmp_path / "manual.safetensors")]
    one_side.train_single(RunConfig(epochs=AFTER, **base), "manual",
                          resume=tmp_path / "manual.safetensors",
                          save=tmp_path / "later.safetensors", given=frozenset({"epochs"}))  # fmt: skip
    lrs.append(_saved_lr(tmp_path / "later.safetensors"))
    assert lrs[0] != base["lr"] and lrs[1] != lrs[0], lrs


def _saved_lr(path: Path) -> float:
    with safetensors.safe_open(path, framework="numpy") as f:
        return float(json.loads((f.metadata() or {})["scheduler"])["_last_lr"][0])


def test_a_schedule_restarted_on_resume_is_caught(tmp_path, monkeypatch):
    """The check can fail: a manual side that forgot the schedule's steps drifts at once."""
    base = settings("sgd", "momentum=0.9", "steplr", "step_size=3")
    monkeypatch.setattr(one_side, "_schedule_start", lambda *a: ScheduleStart())
    out, whole = resumed_everywhere(tmp_path, base)
    with pytest.raises(AssertionError):
        assert_continues(out, whole)
    assert np.abs(out[("torch", ".pth", "torch")] - whole["torch"][BEFORE:]).max() == 0


def test_the_state_keys_are_torch_optims_own(tmp_path):
    """Each family's state fields by hand are the keys torch keeps in optimizer.state[p]."""
    assert MANUAL_KEYS == TORCH_KEYS
    for name, options in FAMILIES.items():
        model = torch.nn.Linear(3, 1, dtype=torch.float64)
        opt = OPTIMIZERS[name](model.parameters(), lr=0.01, **dict(parse(options.split())))
        assert isinstance(opt, torch.optim.Optimizer)
        for _ in range(2):
            opt.zero_grad()
            model(torch.randn(4, 3, dtype=torch.float64)).sum().backward()
            opt.step()
        family = "adam" if name in ("adam", "adamw") else name
        assert set(opt.state[model.weight]) - {"step"} == set(TORCH_KEYS[family]), name


@pytest.mark.parametrize("batch_size", [None, 6], ids=["full batch", "batches of 6"])
@pytest.mark.parametrize("name", SCHEDULERS)
def test_the_manual_record_is_torchs_state_dict(name, batch_size):
    """Every entry the manual side writes equals torch's scheduler.state_dict() entry after
    the same epochs, at several points (across milestones, restarts and plateaus)."""
    from compare.checkpoints.schedule import manual_meta

    base = settings("adam", "", name, SCHEDULERS[name], batch_size)
    for epochs in (1, 4, 9, 16):
        config = RunConfig(epochs=epochs, **base)
        split = make_data(config)
        model = initial_model(config, torch.device("cpu"))
        run = train_manual(config, split, start_of(model))
        mine = json.loads(manual_meta(config, run)["scheduler"])
        optimizer = make_torch_optimizer(config, model)
        scheduler = make_torch_scheduler(config, optimizer)
        torch_run = one_side.train_torch(config, split, model, optimizer, scheduler=scheduler)
        _same(mine, torch_run.scheduler.state_dict(), f"{name} after {epochs}")
        group = json.loads(manual_meta(config, run)["optimizer.param_groups"])[0]
        for key, value in group.items():
            theirs = optimizer.param_groups[0][key]
            np.testing.assert_allclose(value, theirs, rtol=1e-12, err_msg=f"{name} {key}")


def _same(mine, theirs, where):
    if isinstance(mine, dict):
        for key, value in mine.items():
            assert key in theirs, f"{where}: torch has no {key}"
            _same(value, theirs[key], f"{where}.{key}")
    elif isinstance(mine, list):
        assert len(mine) == len(theirs), where
        for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(mine, int):
        assert mine == theirs, f"{where}: {mine} != {theirs}"
    else:
        assert mine == pytest.approx(theirs, rel=1e-12), f"{where}: {mine} != {theirs}"


def test_torchs_own_load_state_dict_would_not_continue_a_float64_nadam():
    """optimizer.load_state_dict casts NAdam's mu_product to float64 for float64 parameters
    (ASGD's eta and mu too), where a fresh run keeps it float32. Continued that way the run
    drifts from the one it continues (by ~1e-17 here: the float32 product underflows to 0
    where the float64 one does not). Put back as gradcompare does, it is that run bit for bit."""
    from compare.checkpoints import torch_files as tck

    later = 200
    base = settings("nadam", "")
    config = RunConfig(epochs=BEFORE, **base)
    split = make_data(config)
    whole = one_side.train_single(RunConfig(epochs=BEFORE + later, **base), "torch")
    first = one_side.train_torch(config, split, initial_model(config, torch.device("cpu")))
    paths = {}
    for how in ("torch's load_state_dict", "gradcompare's restore"):
        model = initial_model(config, torch.device("cpu"))
        model.load_state_dict(first.model.state_dict())
        optimizer = make_torch_optimizer(config, model)
        if how == "torch's load_state_dict":
            optimizer.load_state_dict(copy.deepcopy(first.optimizer.state_dict()))
        else:
            buffers = {k: [first.optimizer.state[p][k].clone() for p in first.model.parameters()]
                       for k in TORCH_KEYS["nadam"]}  # fmt: skip
            weights = first.model.state_dict()
            meta = {"optimizer.state": "nadam", "optimizer.step": str(BEFORE)}
            ck = tck.Checkpoint(weights["weights"], weights["bias"], buffers, first.history, meta)
            tck.restore(model, ck, optimizer)
        run = one_side.train_torch(RunConfig(epochs=later, **base), split, model, optimizer)
        paths[how] = np.column_stack([np.array(run.history.weight), run.history.bias])
    want = path_of(whole)[BEFORE:]
    np.testing.assert_array_equal(paths["gradcompare's restore"], want)
    assert np.abs(paths["torch's load_state_dict"] - want).max() > 0
