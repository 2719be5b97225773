"""The gradcompare command: output, JSON, exit codes and one-line errors for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from .. import course
from ..cli_helpers import run_cli


def test_default_run_is_the_course_and_agrees(capsys):
    code, out, err = run_cli(capsys)
    assert code == 0 and err == ""
    assert "AGREE" in out
    assert "0.31288138" in out  # the course's epoch-0 train loss
    assert "0.5784" in out and "0.3513" in out  # the course's final parameters


def test_json_schema(capsys):
    code, out, _ = run_cli(capsys, "run", "--json", "--loss", "mse", "--features", "2")
    assert code == 0
    data = json.loads(out)
    for key in (
        "config",
        "initial",
        "true",
        "manual",
        "torch",
        "max_abs_param_diff",
        "first_divergence_epoch",
        "agree",
        "closed_form",
    ):
        assert key in data
    assert data["agree"] is True and data["first_divergence_epoch"] is None
    train_gap = max(
        abs(a - b)
        for a, b in zip(data["manual"]["train_loss"], data["torch"]["train_loss"], strict=True)
    )
    assert data["max_abs_train_loss_diff"] == train_gap < 1e-6
    assert data["config"]["loss"] == "mse" and data["config"]["lr"] == 0.01
    for side in ("manual", "torch"):
        assert set(data[side]) == {"weight", "bias", "train_loss", "test_loss"}
        assert len(data[side]["weight"]) == 2 and len(data[side]["train_loss"]) == 100
    assert len(data["closed_form"]["weight"]) == 2 and isinstance(data["initial"]["bias"], float)
    assert data["true"] == {"weight": [0.7, -0.35], "bias": 0.3}


def test_json_course_losses(capsys):
    _, out, _ = run_cli(capsys, "--json")
    data = json.loads(out)
    assert data["closed_form"] is None
    for epoch, (train, test) in course.MODEL_0_LOSSES.items():
        assert data["torch"]["train_loss"][epoch] == pytest.approx(train, rel=1e-6)
        assert data["manual"]["test_loss"][epoch] == pytest.approx(test, rel=1e-6)


BAD = [
    (["--lr", "0"], "--lr"),
    (["--lr", "-1"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "inf"], "--lr"),
    (["--epochs", "0"], "--epochs"),
    (["--loss", "hinge"], "--loss"),
    (["--dtype", "float16"], "--dtype"),
    (["--device", "tpu"], "--device"),
    (["--train-split", "1.0"], "--train-split"),
    (["--train-split", "0.001"], "--train-split"),
    (["--step", "0"], "--step"),
    (["--start", "1", "--end", "1"], "--start"),
    (["--features", "0"], "--features"),
    (["--momentum", "-0.5"], "--momentum"),
    (["--nesterov"], "--nesterov"),
    (["--noise", "-1"], "--noise"),
    (["--weight", "nan"], "--weight"),
    (["--epochs", "ten"], "--epochs"),
    (["--step", "1e-9"], "--step"),
    (["--betas", "0.5", "0.9"], "--betas"),  # an Adam option given to SGD
    (["--amsgrad"], "--amsgrad"),
    (["--eps", "1e-6"], "--eps"),
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**32)], "--seed"),
    (["--los", "mse"], "--los"),  # no abbreviations: a typo is an error, not a guess
    (["--epoch", "5"], "--epoch"),
    (["--step", "1e-7", "--features", "100"], "limit"),
    (["--features", "10000000"], "limit"),
]


@pytest.mark.parametrize(
    ("argv", "flag"), BAD, ids=lambda a: " ".join(a) if isinstance(a, list) else ""
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, flag):
    code, out, err = run_cli(capsys, "run", *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradcompare")
    assert flag in lines[0] and "Traceback" not in err


def test_diverging_run_names_the_epoch_and_suggests_a_smaller_lr(capsys):
    code, _, err = run_cli(capsys, "--loss", "mse", "--lr", "1e4", "--epochs", "500")
    assert code == 2
    line = err.strip()
    assert "\n" not in line
    assert "diverged at epoch" in line and "smaller --lr" in line
    epoch = int(line.split("diverged at epoch ")[1].split(":")[0])
    assert 0 < epoch < 500


def test_cuda_without_a_gpu_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run_cli(capsys, "--device", "cuda")
    assert code == 2 and "no GPU" in err and len(err.strip().splitlines()) == 1


def test_disagreement_exits_1(capsys, monkeypatch):
    from manual import losses

    monkeypatch.setitem(losses.LOSSES, "l1", losses.Loss(losses.l1, lambda p, t: 0 * p))
    code, out, _ = run_cli(capsys, "--dtype", "float64")
    assert code == 1 and "DISAGREE" in out and "epoch 0" in out


def test_console_script_and_python_dash_m(tmp_path):
    script = Path(sys.executable).with_name("gradcompare")
    for cmd in (
        [str(script), "--epochs", "3", "--json"],
        [sys.executable, "-m", "compare", "run", "--epochs", "3", "--json"],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["agree"] is True


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "compare", "--lr", "-3"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1


def test_an_unwritable_output_folder_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, out, err = run_cli(capsys, "run", "--epochs", "2", "--out", str(blocker / "figs"))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_maximize_reaches_torch_from_the_command_line(capsys):
    code, out, _ = run_cli(capsys, "run", "--maximize", "--json", "--no-plots", "--epochs", "20")
    data = json.loads(out)
    assert code == 0 and data["agree"] and data["config"]["maximize"] is True
    assert data["torch"]["train_loss"][-1] > data["torch"]["train_loss"][0]


def test_version(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.startswith("gradcompare ")
