"""Checkpoints: round trips, cross-loading, the course's own files, resume, and hostile files."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import torch
from torch import nn

import manual.checkpoint as mck
from compare.checkpoints import torch_files as tck
from compare.checkpoints.convert import load_manual, save_manual, save_torch
from compare.config import RunConfig
from compare.experiment import run_both
from compare.one_side import predict, train_single
from compare.tolerance import TOLERANCES

from .. import course
from ..cli_helpers import run_cli

CONFIG64 = RunConfig(dtype="float64", features=3, noise=0.1, momentum=0.9, loss="mse", epochs=20)


@pytest.fixture(scope="module")
def trained():
    return run_both(CONFIG64)


@pytest.fixture
def files(tmp_path, trained):
    paths = {
        "manual": tmp_path / "manual.safetensors",
        "torch_st": tmp_path / "torch.safetensors",
        "torch_pth": tmp_path / "torch.pth",
    }
    save_manual(paths["manual"], trained.manual_run, CONFIG64, None)
    save_torch(paths["torch_st"], trained.torch_run, CONFIG64, None)
    save_torch(paths["torch_pth"], trained.torch_run, CONFIG64, None)
    return paths


def test_manual_round_trip(files, trained):
    ck = mck.load(files["manual"])
    w, b = trained.manual_run.params
    assert ck.weight.tobytes() == w.tobytes() and ck.bias.tobytes() == b.tobytes()
    for mine, orig in zip(
        ck.state.momentum_buffer, trained.manual_run.state.momentum_buffer, strict=True
    ):
        np.testing.assert_array_equal(mine, orig)
    assert ck.state.step == 20
    assert ck.history.train_loss == trained.manual_run.history.train_loss
    assert ck.metadata["implementation"] == "manual" and ck.metadata["loss"] == "mse"
    assert ck.metadata["dtype"] == "float64" and ck.metadata["epoch"] == "20"
    assert json.loads(ck.metadata["config"])["momentum"] == 0.9
    assert "numpy" in json.loads(ck.metadata["versions"])


@pytest.mark.parametrize("which", ["torch_st", "torch_pth"])
def test_torch_round_trip(files, trained, which):
    ck = tck.load(files[which])
    model = trained.torch_run.model
    assert torch.equal(ck.weight, model.weights.detach()) and torch.equal(
        ck.bias, model.bias.detach()
    )
    for buf, p in zip(ck.optimizer_state["momentum_buffer"], model.parameters(), strict=True):
        assert torch.equal(buf, trained.torch_run.optimizer.state[p]["momentum_buffer"])
    assert ck.history.test_loss == trained.torch_run.history.test_loss
    assert ck.metadata["implementation"] == "torch" and ck.metadata["model"] == "parameter"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_loading_predicts_the_same(tmp_path, dtype):
    c = run_both(RunConfig(dtype=dtype, features=2, epochs=30))
    m_path, t_path = tmp_path / "m.safetensors", tmp_path / "t.safetensors"
    save_manual(m_path, c.manual_run, c.config, None)
    save_torch(t_path, c.torch_run, c.config, None)
    xs = [0.1, 0.2, 0.5, -0.3, 0.9, 0.25]
    for path in (m_path, t_path):
        _, by_manual = predict(path, "manual", xs)
        _, by_torch = predict(path, "torch", xs)
        if dtype == "float64":
            assert by_manual.tobytes() == by_torch.tobytes()
        else:
            np.testing.assert_allclose(by_manual, by_torch, rtol=2e-7, atol=1e-7)
    # One file, loaded by either side, gives the same parameters bit for bit: both read the
    # same stored bytes, with no arithmetic, so this holds on every CPU.
    for path in (m_path, t_path):
        assert mck.load(path).weight.tobytes() == tck.load(path).weight.numpy().tobytes()
    # The two sides' files were trained apart: with 2 features NumPy's and torch's kernels may
    # sum the products in another order (AVX-512 against AVX2), so they agree to the
    # tolerance of 30 float32 steps, not bit for bit.
    tol = TOLERANCES[dtype]
    np.testing.assert_allclose(mck.load(m_path).weight, mck.load(t_path).weight,
                               rtol=tol.rtol, atol=tol.atol)  # fmt: skip


def _course_model_0():
    torch.manual_seed(42)
    return course.LinearRegressionModel()


def _course_model_1():
    torch.manual_seed(42)
    return course.LinearRegressionModelV2()


@pytest.mark.parametrize("build", [_course_model_0, _course_model_1])
@pytest.mark.parametrize("impl", ["manual", "torch"])
def test_the_course_notebooks_state_dict_loads_as_it_is(tmp_path, build, impl):
    model = build()
    path = tmp_path / "01_pytorch_workflow_model_0.pth"
    torch.save(obj=model.state_dict(), f=path)  # exactly the chapter's save cell
    xs = [0.8, 0.82, 0.84]
    model.eval()
    with torch.inference_mode():
        expected = model(torch.tensor(xs).unsqueeze(1))[:, 0].numpy()
    _, preds = predict(path, impl, xs)
    np.testing.assert_allclose(preds, expected, rtol=1e-7)


def test_course_model_after_training_predicts_the_printed_values(tmp_path):
    model = _course_model_0()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    X = torch.arange(0, 1, 0.02).unsqueeze(dim=1)
    y = 0.7 * X + 0.3
    for _ in range(100):
        loss = nn.L1Loss()(model(X[:40]), y[:40])
        opt.zero_grad()
        loss.backward()
        opt.step()
    path = tmp_path / "model_0.pth"
    torch.save(model.state_dict(), path)
    for impl in ("manual", "torch"):
        _, preds = predict(path, impl, X[40:, 0].tolist())
        np.testing.assert_allclose(preds, course.MODEL_0_TEST_PREDICTIONS, atol=6e-5)


class Evil:
    """Unpickling this would create a file: the classic pickle code-execution payload."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


@pytest.mark.parametrize("payload_at", ["top", "inside"])
def test_malicious_pth_never_runs(tmp_path, capsys, payload_at):
    target = tmp_path / "pwned"
    evil = Evil(str(target))
    obj = evil if payload_at == "top" else {"weights": torch.ones(1), "bias": evil}
    path = tmp_path / "evil.pth"
    torch.save(obj, path)
    for argv in (
        ["predict", "--load", str(path), "--x", "1"],
        ["predict", "--load", str(path), "--impl", "manual", "--x", "1"],
        ["train", "--impl", "torch", "--resume", str(path)],
        ["train", "--impl", "manual", "--resume", str(path)],
    ):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and out == "" and "refused" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    assert not target.exists()


@pytest.mark.parametrize("which", ["manual", "torch_st", "torch_pth"])
def test_truncation_at_several_offsets(files, capsys, which):
    data = files[which].read_bytes()
    for cut in (0, 1, 7, 8, 16, len(data) // 3, len(data) // 2, len(data) - 1):
        bad = files[which].with_name(f"cut{cut}{files[which].suffix}")
        bad.write_bytes(data[:cut])
        code, out, err = run_cli(capsys, "predict", "--load", str(bad), "--x", "1", "2", "3")
        assert code == 2 and out == "", (cut, err)
        assert str(bad) in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_random_bytes_and_wrong_formats(tmp_path, capsys):
    garbage = tmp_path / "g.safetensors"
    garbage.write_bytes(os.urandom(300))
    swapped = tmp_path / "s.pth"
    swapped.write_bytes(safetensors.numpy.save({"weight": np.ones(1)}))
    text = tmp_path / "model.txt"
    text.write_text("weights 0.7")
    for path, needle in ((garbage, "readable"), (swapped, "readable"), (text, "format")):
        code, _, err = run_cli(capsys, "predict", "--load", str(path), "--x", "1")
        assert code == 2 and needle in err, err


def _write_layout(path, tensors, fmt=mck.FORMAT):
    path.write_bytes(safetensors.numpy.save(tensors, metadata={"format": fmt}))


BAD_LAYOUTS = {
    "missing bias": ({"weight": np.ones(1)}, "missing"),
    "unexpected key": (
        {"weight": np.ones(1), "bias": np.ones(1), "evil": np.ones(1)},
        "unexpected",
    ),
    "wrong shape": ({"weight": np.ones((2, 2)), "bias": np.ones(1)}, "(d,)"),
    "bias shape": ({"weight": np.ones(1), "bias": np.ones(2)}, "(1,)"),
    "int dtype": (
        {"weight": np.ones(1, dtype=np.int64), "bias": np.ones(1, dtype=np.int64)},
        "float",
    ),
    "mixed dtype": ({"weight": np.ones(1), "bias": np.ones(1, dtype=np.float32)}, "float"),
    "nan": ({"weight": np.array([np.nan]), "bias": np.ones(1)}, "NaN"),
    "inf": ({"weight": np.ones(1), "bias": np.array([np.inf])}, "infinite"),
    "buffer shape": (
        {"weight": np.ones(2), "bias": np.ones(1), "optimizer.momentum_buffer.weight": np.ones(3)},
        "momentum",
    ),
}


@pytest.mark.parametrize("case", BAD_LAYOUTS)
@pytest.mark.parametrize("impl", ["manual", "torch"])
def test_bad_layouts_are_named(tmp_path, capsys, case, impl):
    tensors, needle = BAD_LAYOUTS[case]
    path = tmp_path / "bad.safetensors"
    _write_layout(path, tensors)
    code, out, err = run_cli(
        capsys, "predict", "--load", str(path), "--impl", impl, "--x", "1", "2"
    )
    assert code == 2 and out == "" and needle in err and str(path) in err, err


def test_foreign_safetensors_is_not_ours(tmp_path, capsys):
    path = tmp_path / "other.safetensors"
    _write_layout(path, {"weight": np.ones(1), "bias": np.ones(1)}, fmt="someone-else")
    code, _, err = run_cli(capsys, "predict", "--load", str(path), "--x", "1")
    assert code == 2 and "not a gradcompare checkpoint" in err


def test_bad_course_pth_keys_and_missing_file(tmp_path, capsys):
    path = tmp_path / "x.pth"
    torch.save({"weights": torch.ones(1), "bias": torch.ones(1), "extra": torch.ones(1)}, path)
    code, _, err = run_cli(capsys, "predict", "--load", str(path), "--x", "1")
    assert code == 2 and "unexpected keys" in err
    code, _, err = run_cli(capsys, "predict", "--load", str(tmp_path / "nope.pth"), "--x", "1")
    assert code == 2 and "no such file" in err


def test_feature_count_must_match_x(files, capsys):
    code, _, err = run_cli(capsys, "predict", "--load", str(files["manual"]), "--x", "1", "2")
    assert code == 2 and "3 feature(s)" in err and "multiple of 3" in err


def test_resume_takes_left_out_settings_from_the_checkpoint(files, capsys):
    # The files were written with --features 3 --dtype float64: a bare --resume continues them.
    code, _, err = run_cli(capsys, "train", "--impl", "manual", "--resume", str(files["manual"]))
    assert code == 0, err
    code, _, err = run_cli(
        capsys, "train", "--impl", "torch", "--features", "1", "--resume", str(files["torch_pth"])
    )
    assert code == 2 and "was trained with --features 3" in err
    code, _, err = run_cli(
        capsys,
        "train",
        "--impl",
        "torch",
        "--dtype",
        "float32",
        "--resume",
        str(files["torch_pth"]),
    )
    assert code == 2 and "was trained with --dtype float64" in err


def test_save_into_a_missing_folder_is_refused_before_training(tmp_path, capsys):
    target = tmp_path / "no" / "such" / "m.safetensors"
    code, _, err = run_cli(capsys, "train", "--impl", "manual", "--save", str(target))
    assert code == 2 and "does not exist" in err and not target.parent.exists()
    code, _, err = run_cli(capsys, "train", "--impl", "manual", "--save", str(tmp_path / "m.pth"))
    assert code == 2 and ".safetensors" in err


@pytest.mark.parametrize(
    ("impl", "fmt"), [("manual", ".safetensors"), ("torch", ".safetensors"), ("torch", ".pth")]
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resume_equals_straight_through_with_momentum(tmp_path, impl, fmt, dtype):
    base = dict(
        dtype=dtype, features=2, noise=0.05, momentum=0.9, dampening=0.1, lr=0.05, loss="huber"
    )
    straight = train_single(RunConfig(epochs=30, **base), impl)
    path = tmp_path / f"k{fmt}"
    train_single(RunConfig(epochs=12, **base), impl, save=path)
    resumed = train_single(RunConfig(epochs=18, **base), impl, resume=path, save=path)
    assert resumed.first_epoch == 12
    np.testing.assert_array_equal(resumed.trajectory.weight, straight.trajectory.weight[12:])
    np.testing.assert_array_equal(resumed.trajectory.bias, straight.trajectory.bias[12:])
    # The saved history now covers all 30 epochs.
    assert len(load_manual(path).history.train_loss) == 30


@pytest.mark.parametrize(
    "base",
    [
        dict(features=2, momentum=0.9, nesterov=True),  # SGD's momentum buffer crosses over
        dict(optimizer="adamw", weight_decay=0.1, batch_size=9),  # Adam's moments and step
    ],
    ids=["sgd-nesterov", "adamw-minibatch"],
)
def test_cross_resume_manual_from_a_torch_pth(tmp_path, base):
    base = dict(dtype="float64", lr=0.05, **base)
    straight = train_single(RunConfig(epochs=30, **base), "manual")
    path = tmp_path / "t.pth"
    train_single(RunConfig(epochs=10, **base), "torch", save=path)
    resumed = train_single(RunConfig(epochs=20, **base), "manual", resume=path)
    np.testing.assert_allclose(
        resumed.trajectory.weight, straight.trajectory.weight[10:], atol=1e-13
    )


@pytest.mark.parametrize("which", ["manual", "torch_pth"])
def test_interrupted_save_leaves_the_old_file_whole(files, monkeypatch, trained, which):
    path = files[which]
    before = path.read_bytes()
    real_fsync = os.fsync

    def crash(fd):
        os.ftruncate(fd, 10)  # half-written
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        if which == "manual":
            save_manual(path, trained.manual_run, CONFIG64, None)
        else:
            save_torch(path, trained.torch_run, CONFIG64, None)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(p.name for p in files.values())


def test_run_save_dir_refuses_a_missing_parent_before_training(tmp_path, capsys):
    out = tmp_path / "new" / "dir"
    code, text, err = run_cli(capsys, "run", "--epochs", "40", "--save-dir", str(out))
    assert code == 2 and text == ""  # refused before any training was reported
    assert f"folder {tmp_path / 'new'} does not exist; create it first" in err
    assert not (tmp_path / "new").exists()


def test_run_save_dir_writes_both_and_they_predict_alike(tmp_path, capsys):
    out = tmp_path / "dir"
    code, text, _ = run_cli(capsys, "run", "--epochs", "40", "--save-dir", str(out))
    assert code == 0
    for name in ("manual.safetensors", "torch.safetensors", "torch.pth"):
        assert f"saved {out / name}" in text
    assert sorted(p.name for p in out.iterdir()) == [
        "manual.safetensors",
        "torch.pth",
        "torch.safetensors",
    ]
    code, text, _ = run_cli(
        capsys, "predict", "--load", str(out / "torch.pth"), "--x", "0.5", "--json"
    )
    assert code == 0
    by_torch = json.loads(text)
    code, text, _ = run_cli(
        capsys, "predict", "--load", str(out / "manual.safetensors"), "--x", "0.5"
    )
    assert code == 0 and float(text) == pytest.approx(by_torch["predictions"][0], rel=1e-6)
    assert by_torch["x"] == [0.5]


def test_train_json(capsys):
    code, out, _ = run_cli(capsys, "train", "--impl", "manual", "--json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"weight", "bias", "train_loss", "test_loss"}
    assert data["train_loss"][0] == pytest.approx(course.MODEL_0_LOSSES[0][0], rel=1e-6)
    assert round(data["weight"][0], 4) == course.MODEL_0_FINAL[0]


@pytest.mark.parametrize("impl", ["manual", "torch"])
def test_the_course_file_resumes_with_any_optimizer(tmp_path, impl):
    """A bare state_dict has no optimizer state: resuming starts Adam fresh from its weights."""
    model = _course_model_0()
    path = tmp_path / "model_0.pth"
    torch.save(model.state_dict(), path)
    config = RunConfig(optimizer="adam", lr=0.05, epochs=5)
    resumed = train_single(config, impl, resume=path)
    assert resumed.first_epoch == 0
    # Independent: Adam in plain torch from the same weights on the same data.
    w = torch.nn.Parameter(model.weights.detach().clone())
    b = torch.nn.Parameter(model.bias.detach().clone())
    opt = torch.optim.Adam([w, b], lr=0.05)
    X = torch.arange(0, 1, 0.02).unsqueeze(1)[:40]
    for _ in range(5):
        loss = torch.nn.functional.l1_loss(w * X + b, 0.7 * X + 0.3)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert resumed.trajectory.weight[-1, 0] == pytest.approx(w.item(), abs=1e-6)


def test_non_finite_x_is_refused(files, capsys):
    code, out, err = run_cli(
        capsys, "predict", "--load", str(files["manual"]), "--x", "nan", "1", "2"
    )
    assert code == 2 and out == "" and "NaN" in err


SGD_BASE = ["--dtype", "float64", "--features", "2", "--noise", "0.1", "--momentum", "0.9",
            "--batch-size", "8", "--loss", "huber", "--lr", "0.02", "--seed", "5"]  # fmt: skip
ADAM_BASE = ["--dtype", "float64", "--optimizer", "adam", "--amsgrad", "--betas", "0.8", "0.99",
             "--eps", "1e-6", "--lr", "0.02"]  # fmt: skip
MISMATCHES = [
    (SGD_BASE, ["--loss", "mse"], "--loss huber"),
    (SGD_BASE, ["--model", "linear"], "--model parameter"),
    (SGD_BASE, ["--momentum", "0.5"], "--momentum 0.9"),
    (SGD_BASE, ["--dampening", "0.1"], "--dampening 0.0"),
    (SGD_BASE, ["--nesterov"], "--nesterov off"),
    (SGD_BASE, ["--weight-decay", "0.1"], "--weight-decay 0.0"),
    (SGD_BASE, ["--maximize"], "--maximize off"),
    (SGD_BASE, ["--lr", "0.05"], "--override lr"),
    (SGD_BASE, ["--batch-size", "4"], "--batch-size 8"),
    (SGD_BASE, ["--shuffle"], "--shuffle off"),
    (SGD_BASE, ["--seed", "6"], "--seed 5"),
    (SGD_BASE, ["--noise", "1"], "--noise 0.1"),
    (SGD_BASE, ["--weight", "0.5"], "--weight 0.7"),
    (SGD_BASE, ["--bias", "0.5"], "--bias 0.3"),
    (SGD_BASE, ["--step", "0.01"], "--step 0.02"),
    (SGD_BASE, ["--train-split", "0.7"], "--train-split 0.8"),
    (SGD_BASE, ["--features", "3"], "--features 2"),
    (SGD_BASE, ["--dtype", "float32"], "--dtype float64"),
    (["--dtype", "float64"], ["--optimizer", "adam"], "--optimizer sgd"),
    (ADAM_BASE, ["--betas", "0.9", "0.999"], "--betas 0.8 0.99"),
    (ADAM_BASE, ["--eps", "1e-8"], "--eps 1e-06"),
    (ADAM_BASE, ["--optimizer", "adamw"], "--optimizer adam"),
]


@pytest.mark.parametrize("impl", ["manual", "torch"])
@pytest.mark.parametrize(
    ("base", "changed", "needle"),
    MISMATCHES,
    ids=lambda m: " ".join(m) if isinstance(m, list) else None,
)
def test_resume_refuses_every_setting_that_shapes_the_path(
    tmp_path, capsys, impl, base, changed, needle
):
    path = tmp_path / ("k.pth" if impl == "torch" else "k.safetensors")
    code, _, err = run_cli(
        capsys, "train", "--impl", impl, "--epochs", "3", *base, "--save", str(path)
    )
    assert code == 0, err
    code, out, err = run_cli(
        capsys, "train", "--impl", impl, "--resume", str(path), *base, *changed
    )
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"was trained with {needle.split(' --')[0]}" in err or needle in err, err


@pytest.mark.parametrize("impl", ["manual", "torch"])
def test_a_bare_resume_continues_the_checkpoint_and_an_override_is_recorded(tmp_path, capsys, impl):
    path = tmp_path / ("k.pth" if impl == "torch" else "k.safetensors")
    straight = train_single(RunConfig(epochs=10, dtype="float64", optimizer="adam", amsgrad=True,
                                      batch_size=6, shuffle=True, lr=0.02), impl)  # fmt: skip
    code, _, _ = run_cli(capsys, "train", "--impl", impl, "--epochs", "4", "--dtype", "float64",
                         "--optimizer", "adam", "--amsgrad", "--batch-size", "6", "--shuffle",
                         "--lr", "0.02", "--save", str(path))  # fmt: skip
    assert code == 0
    # Every setting left out comes from the file, AMSGrad's state included.
    code, out, err = run_cli(capsys, "train", "--impl", impl, "--resume", str(path),
                             "--epochs", "6", "--json", "--save", str(path))  # fmt: skip
    assert code == 0, err
    np.testing.assert_array_equal(json.loads(out)["weight"], straight.trajectory.weight[-1])
    code, _, err = run_cli(capsys, "train", "--impl", impl, "--resume", str(path), "--lr", "0.05",
                           "--override", "lr", "--epochs", "2", "--save", str(path))  # fmt: skip
    assert code == 0, err
    meta = load_manual(path).metadata
    (override,) = json.loads(meta["overrides"])
    assert override == {"epoch": 10, "setting": "lr", "was": 0.02, "now": 0.05}
    assert json.loads(meta["config"])["lr"] == 0.05 and meta["epoch"] == "12"


def test_amsgrad_on_a_plain_adam_checkpoint_is_one_line_on_both_sides(tmp_path, capsys):
    path = tmp_path / "a.pth"
    run_cli(
        capsys,
        "train",
        "--impl",
        "torch",
        "--optimizer",
        "adam",
        "--epochs",
        "2",
        "--save",
        str(path),
    )
    for impl in ("manual", "torch"):
        code, _, err = run_cli(capsys, "train", "--impl", impl, "--optimizer", "adam", "--amsgrad",
                               "--resume", str(path))  # fmt: skip
        assert code == 2 and "was trained with --amsgrad off" in err and "Traceback" not in err


def test_a_link_planted_at_the_temporary_name_is_never_written_through(files, trained, tmp_path):
    """The teaching sides write to the path they are given; the temporary file is ours, fresh."""
    from compare.files import temporary

    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    path = files["manual"]
    temporary(path).symlink_to(victim)
    save_manual(path, trained.manual_run, CONFIG64, None)
    assert victim.read_text() == "untouched"
    assert not temporary(path).exists() and mck.load(path).weight.size == CONFIG64.features
