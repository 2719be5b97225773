"""A schedule's state from a file is checked before either side uses it: one line, exit 2.

Each file below is a valid checkpoint with one thing wrong in its scheduler record or in the
param_groups beside it, as a damaged download or a hand-edited file would have it. Both sides
refuse it in one line that names the file and the entry, before training, and write nothing.
"""

from __future__ import annotations

import json

import pytest
import safetensors
import safetensors.numpy
import torch

from tests.cli_helpers import run_cli

TRAIN = ("train", "--dtype", "float64", "--optimizer", "sgd", "--momentum", "0.9")
STEPLR = ("--scheduler", "steplr", "--scheduler-args", "step_size=3")


def saved(tmp_path, capsys, name="ck.safetensors", *more: str):
    path = tmp_path / name
    code, _, err = run_cli(capsys, *TRAIN, *STEPLR, "--epochs", "8", "--save", str(path), *more)
    assert code == 0, err
    return path


def tampered(path, change):
    """The file with its metadata changed by `change(metadata)`, written back in place."""
    with safetensors.safe_open(path, framework="numpy") as f:
        meta = dict(f.metadata() or {})
    tensors = safetensors.numpy.load_file(path)
    change(meta)
    safetensors.numpy.save_file(tensors, path, metadata=meta)


def in_record(edit):
    def change(meta):
        record = json.loads(meta["scheduler"])
        edit(record)
        meta["scheduler"] = json.dumps(record)

    return change


def in_group(edit):
    def change(meta):
        groups = json.loads(meta["optimizer.param_groups"])
        edit(groups[0])
        meta["optimizer.param_groups"] = json.dumps(groups)

    return change


CASES = {
    "not JSON": (lambda m: m.update(scheduler="{"), "metadata scheduler is not a JSON object"),
    "a list": (lambda m: m.update(scheduler="[]"), "metadata scheduler is not a JSON object"),
    "no record": (lambda m: m.pop("scheduler"), "holds no scheduler state to continue"),
    "count is text": (in_record(lambda r: r.update(last_epoch="8")), "scheduler.last_epoch is 8"),
    "count is a float": (in_record(lambda r: r.update(last_epoch=8.5)), "expected a whole number"),
    "count missing": (in_record(lambda r: r.pop("last_epoch")), "scheduler has no last_epoch"),
    "count too far": (in_record(lambda r: r.update(last_epoch=10**13)), "expected a whole number"),
    "count not the history's": (in_record(lambda r: r.update(last_epoch=5)), "inconsistent"),
    "lr NaN": (in_record(lambda r: r.update(_last_lr=[float("nan")])), "expected a number"),
    "lr infinite": (in_record(lambda r: r.update(_last_lr=[float("inf")])), "a finite number"),
    "two lrs": (in_record(lambda r: r.update(_last_lr=[0.1, 0.2])), "is not a list of 1"),
    "groups missing": (lambda m: m.pop("optimizer.param_groups"), "not a list of one group"),
    "group lr negative": (in_group(lambda g: g.update(lr=-1.0)), "expected a number ≥ 0"),
    "group lr missing": (in_group(lambda g: g.pop("lr")), "optimizer.param_groups has no lr"),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("impl", ["manual", "torch"])
def test_a_damaged_schedule_is_one_line_on_both_sides(tmp_path, capsys, case, impl):
    change, needle = CASES[case]
    path = saved(tmp_path, capsys)
    tampered(path, change)
    later = tmp_path / "later.safetensors"
    code, _, err = run_cli(capsys, "train", "--impl", impl, "--resume", str(path),
                           "--epochs", "3", "--save", str(later))  # fmt: skip
    assert code == 2, err
    assert needle in err and str(path) in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not later.exists()


def test_a_pth_whose_scheduler_holds_a_tensor_is_one_line(tmp_path, capsys):
    path = saved(tmp_path, capsys, "ck.pth", "--impl", "torch")
    blob = torch.load(path, weights_only=True)
    blob["scheduler_state_dict"]["last_epoch"] = torch.tensor(8)
    torch.save(blob, path)
    for impl in ("manual", "torch"):
        code, _, err = run_cli(capsys, "train", "--impl", impl, "--resume", str(path),
                               "--epochs", "3")  # fmt: skip
        assert code == 2 and "scheduler_state_dict holds more than" in err, err
        assert "Traceback" not in err


def test_a_finished_cycle_is_one_line_that_says_how_far_it_can_go(tmp_path, capsys):
    path = tmp_path / "cycle.safetensors"
    code, _, err = run_cli(capsys, *TRAIN, "--scheduler", "onecyclelr", "--scheduler-args",
                           "max_lr=0.05", "total_steps=12", "--epochs", "8", "--save", str(path))  # fmt: skip
    assert code == 0, err
    for impl in ("manual", "torch"):
        code, _, err = run_cli(capsys, "train", "--impl", impl, "--resume", str(path),
                               "--epochs", "5")  # fmt: skip
        assert code == 2 and "has 4 of its 12 steps left" in err and "--epochs 4" in err, err
        code, _, err = run_cli(capsys, "train", "--impl", impl, "--resume", str(path),
                               "--epochs", "4")  # fmt: skip
        assert code == 0, err


def test_the_lr_of_a_scheduled_run_cannot_be_overridden(tmp_path, capsys):
    path = saved(tmp_path, capsys)
    code, _, err = run_cli(capsys, "train", "--impl", "manual", "--resume", str(path),
                           "--lr", "0.5", "--override", "lr")  # fmt: skip
    assert code == 2 and "sets the lr itself" in err and "Traceback" not in err, err


def test_an_rmsprop_file_without_its_mean_gradient_is_one_line(tmp_path, capsys):
    """A centered RMSprop keeps grad_avg; a file without it (nothing recorded to say the run
    was centered) cannot be continued centered, on either side."""
    path = tmp_path / "rms.safetensors"
    args = ("--optimizer", "rmsprop", "--optim-args", "centered=True")
    code, _, err = run_cli(capsys, "train", *args, "--epochs", "3", "--save", str(path))
    assert code == 0, err
    tensors = safetensors.numpy.load_file(path)
    with safetensors.safe_open(path, framework="numpy") as f:
        meta = dict(f.metadata() or {})
    for name in ("optimizer.grad_avg.weight", "optimizer.grad_avg.bias"):
        del tensors[name]
    meta.pop("config")  # as a file from elsewhere: no settings recorded
    safetensors.numpy.save_file(tensors, path, metadata=meta)
    for impl in ("manual", "torch"):
        code, _, err = run_cli(capsys, "train", "--impl", impl, *args, "--resume", str(path))
        assert code == 2 and "lacks grad_avg" in err and "Traceback" not in err, err
