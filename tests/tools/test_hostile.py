"""Hostile and broken checkpoints, interrupted saves, kills: one line, exit 0 or 2, nothing lost.

tests/crafted.py writes the files; one child process loads each on both sides and reports
its exit code, time, peak memory and what it printed, so memory is measured where no test
runner's own allocations blur it.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from compare.checkpoints.convert import load_manual, save_manual
from compare.config import RunConfig
from compare.experiment import run_both

from ..cli_helpers import run_cli
from ..crafted import write_all

HERE = Path(__file__).resolve().parents[1]  # tests/, where crafted.py lives
NAMES = ['pth_200k_keys', 'pth_2d_buffer', 'pth_3d_weight', 'pth_bias_2', 'pth_bool_weight', 'pth_complex_weight', 'pth_dict_weight', 'pth_empty', 'pth_empty_dict', 'pth_empty_weight', 'pth_expanded_2e29', 'pth_expanded_2e31', 'pth_expanded_buffer', 'pth_expanded_history', 'pth_half_weight', 'pth_history_list', 'pth_history_missing_part', 'pth_history_nan', 'pth_history_short', 'pth_history_string', 'pth_huge_d', 'pth_int_weight', 'pth_list_weight', 'pth_meta_weight', 'pth_metadata_bad_config', 'pth_metadata_bad_model', 'pth_metadata_epoch_negative', 'pth_metadata_list', 'pth_metadata_other_format', 'pth_metadata_step_text', 'pth_metadata_string', 'pth_metadata_tensor_value', 'pth_metadata_unknown_state', 'pth_mixed_dtypes', 'pth_nan_momentum', 'pth_nan_weight', 'pth_negative_exp_avg_sq', 'pth_optimizer_malformed', 'pth_optimizer_no_groups', 'pth_random', 'pth_raw_pickle_payload', 'pth_raw_pickle_plain', 'pth_sparse_weight', 'pth_step_400_digits', 'pth_step_inf', 'pth_step_negative', 'pth_step_string', 'pth_system_payload', 'pth_tensor_not_dict', 'pth_truncated', 'pth_wrong_keys', 'st_200k_names', 'st_2d_buffer', 'st_2d_weight', 'st_adam_without_moments', 'st_bad_config', 'st_bf16_weight', 'st_bool_weight', 'st_empty', 'st_empty_weight', 'st_epoch_text', 'st_header_length_huge', 'st_header_not_json', 'st_history_2d', 'st_history_short', 'st_huge_d', 'st_inf_bias', 'st_int_weight', 'st_missing_bias', 'st_mixed_dtypes', 'st_nan_history', 'st_nan_momentum', 'st_nan_weight', 'st_negative_exp_avg_sq', 'st_no_format', 'st_other_format', 'st_overlapping', 'st_random', 'st_shape_beyond_file', 'st_sparse_4gib', 'st_step_1e400', 'st_step_400_digits', 'st_step_abc', 'st_step_negative', 'st_truncated', 'st_unknown_state', 'st_unknown_tensor']  # fmt: skip
PEAK_MB, SECONDS = 500, 10


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crafted")
    assert sorted(write_all(folder)) == NAMES  # the list below and the generator agree
    done = subprocess.run([sys.executable, str(HERE / "crafted.py"), str(folder)],
                          capture_output=True, text=True, check=True, timeout=600)  # fmt: skip
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    return {(r["file"], r["impl"]): r for r in rows}


def test_at_least_sixty_crafted_files_in_both_formats():
    assert len(NAMES) >= 60
    assert sum(n.startswith("pth_") for n in NAMES) >= 30
    assert sum(n.startswith("st_") for n in NAMES) >= 30


@pytest.mark.parametrize("impl", ["manual", "torch"])
@pytest.mark.parametrize("name", NAMES)
def test_a_crafted_file_is_one_line_small_and_quick(loaded, name, impl):
    r = loaded[(name, impl)]
    lines = r["stderr"].strip().splitlines()
    assert r["code"] in (0, 2), r
    assert "Traceback" not in r["stderr"] and len(lines) <= 1 and len(r["stderr"]) < 400, r
    assert r["peak_mb"] < PEAK_MB and r["seconds"] < SECONDS, r
    if r["code"] == 2:
        assert lines[0].startswith("gradcompare: error: ") and name in lines[0]


def test_code_in_a_file_never_runs(loaded, tmp_path):
    assert not Path("PWNED").exists() and not (HERE.parent / "PWNED").exists()
    for name in ("pth_system_payload", "pth_raw_pickle_payload"):
        assert "refused" in loaded[(name, "manual")]["stderr"]


def test_memory_bombs_are_refused_before_they_are_built(loaded):
    for name in ("pth_expanded_2e31", "st_sparse_4gib", "pth_200k_keys", "st_200k_names"):
        for impl in ("manual", "torch"):
            assert loaded[(name, impl)]["code"] == 2


SAVER = """
import sys, time
from pathlib import Path
from compare.checkpoints.convert import save_manual
from compare.config import RunConfig
from compare.experiment import run_both
c = run_both(RunConfig(epochs=3000, features=40, dtype="float64", step=0.005, no_plots=None) if False else RunConfig(epochs=3000, features=40, dtype="float64", step=0.005))
print("ready", flush=True)
while True:
    save_manual(Path(sys.argv[1]), c.manual_run, c.config, None)
"""


def test_killed_saves_leave_no_partial_file_and_no_orphan(tmp_path):
    """SIGKILL at random moments during saves of a ~10 MB history: the file is whole or absent."""
    target = tmp_path / "k.safetensors"
    rng = np.random.default_rng(0)
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(target)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.3)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if target.exists():
            assert len(load_manual(target).history.train_loss) == 3000  # whole, never half
    c = run_both(RunConfig(epochs=2))
    save_manual(target, c.manual_run, c.config, None)  # the next save clears what a kill left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.safetensors"]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_stop_with_one_line(tmp_path, sig, code):
    target = tmp_path / "m.pth"
    proc = subprocess.Popen(
        [sys.executable, "-m", "compare", "train", "--impl", "torch", "--epochs", "100000000",
         "--save", str(target)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    # The header is printed just before training starts: torch is imported, the save far off.
    assert proc.stdout.readline().startswith("l1 loss")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().count("\n") == 0 and "Traceback" not in err and "nothing partial" in err
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_save_errors_come_before_training_and_name_the_users_path(tmp_path, capsys):
    folder = tmp_path / "dir.pth"
    folder.mkdir()
    code, out, err = run_cli(capsys, "train", "--impl", "torch", "--save", str(folder))
    assert code == 2 and out == "" and f"{folder}: is a folder" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run_cli(
        capsys, "train", "--impl", "manual", "--save", str(blocker / "m.safetensors")
    )
    assert code == 2 and out == "" and "does not exist" in err
    assert "gradcompare-tmp" not in err


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, capsys, monkeypatch):
    target = tmp_path / "m.safetensors"
    code, _, _ = run_cli(
        capsys, "train", "--impl", "manual", "--epochs", "2", "--save", str(target)
    )
    before = target.read_bytes()

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = run_cli(
        capsys, "train", "--impl", "manual", "--epochs", "2", "--save", str(target)
    )
    assert (
        code == 2 and f"{target}: No space left on device" in err and "gradcompare-tmp" not in err
    )
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_save_dir_writes_all_three_or_none(tmp_path, capsys, monkeypatch):
    calls = {"n": 0}
    real = os.fsync

    def second_fails(fd):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real(fd)

    out_dir = tmp_path / "models"
    monkeypatch.setattr(os, "fsync", second_fails)
    code, _, err = run_cli(capsys, "run", "--epochs", "2", "--no-plots", "--save-dir", str(out_dir))
    assert code == 2 and "No space left" in err and "gradcompare-stage" not in err
    assert list(out_dir.iterdir()) == []  # not one side's file without the other's


def test_x_is_finite_in_the_models_dtype_and_negatives_are_numbers(tmp_path, capsys):
    path = tmp_path / "m.pth"
    code, _, _ = run_cli(capsys, "train", "--impl", "torch", "--epochs", "2", "--save", str(path))
    assert code == 0
    for x in ("1e308", "-1e39"):  # beyond float32; the second once read as an unknown option
        code, out, err = run_cli(capsys, "predict", "--load", str(path), "--x", x, "--json")
        assert code == 2 and out == "" and "beyond the model's float32" in err
    code, out, _ = run_cli(capsys, "predict", "--load", str(path), "--x", "-2.5", "--json")
    assert code == 0 and "Infinity" not in out and json.loads(out)["x"] == [-2.5]
