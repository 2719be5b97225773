"""Every learner notebook of docs/mistakes/notebooks/ gets the verdict its author intended.

The notebooks (written by scripts/learner_notebooks.py) are this chapter's exercise as
learners write it, in many styles, each with one planted mistake or none. Each runs in the
sandbox and is judged from its recording. The chapter's own cells, pasted into a notebook,
must be correct and end at the chapter's printed weight 0.5784 and bias 0.3513.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compare.notebooks.expect import load
from compare.notebooks.run import diagnose_notebook

NOTEBOOKS = Path(__file__).resolve().parents[2] / "docs" / "mistakes" / "notebooks"

# file: (exit code with --expect exercise, the mistakes named, warnings that must be there,
#        the error's type and a word of its hint, the settings that differ)
CORRECT: tuple[int, set[str], set[str], None, set[str]] = (0, set(), set(), None, set())
EXPECTED: dict[str, tuple[int, set[str], set[str], tuple[str, str] | None, set[str]]] = {
    "exercise_linear": CORRECT,
    "exercise_parameter_device": (0, set(), {"not_run"}, None, set()),
    "train_function_globals": CORRECT,
    "written_loss": CORRECT,
    "magics_and_shell": (0, set(), {"not_run"}, None, set()),
    "two_models": (1, set(), set(), None, {"epochs", "optimizer"}),
    "own_data_noisy": (1, set(), set(), None, {"line", "epochs", "loss", "lr"}),
    "mini_batches": (1, set(), set(), None, {"epochs"}),
    "settings_epochs_lr": (1, set(), set(), None, {"epochs", "lr"}),
    "settings_adam_mse": (1, set(), set(), None, {"loss", "optimizer"}),
    "adam_steplr": (1, set(), set(), None, {"optimizer", "lr"}),
    "no_seed": (1, {"no_seed"}, set(), None, set()),
    "cuda_seed_only": (1, {"no_seed"}, set(), None, set()),
    "seed_after_model": (1, {"seed_after_model"}, set(), None, set()),
    "test_with_grad": (1, {"test_with_grad"}, set(), None, set()),
    "test_on_train": (1, {"test_on_train"}, set(), None, None),  # type: ignore[dict-item]
    "eval_in_training": (1, {"eval_in_training"}, set(), None, set()),
    "no_zero_grad": (1, {"no_zero_grad"}, set(), None, set()),
    "zero_grad_after_backward": (1, {"zero_grad_after_backward"}, set(), None, set()),
    "step_before_backward": (1, {"step_before_backward"}, set(), None, set()),
    "wrong_parameters": (1, {"wrong_parameters"}, set(), None, None),  # type: ignore[dict-item]
    "sum_reduction": (1, {"sum_reduction"}, set(), None, set()),
    "trained_on_test": (1, {"trained_on_test"}, set(), None, None),  # type: ignore[dict-item]
    "broadcast_shape": (1, {"broadcast_shape"}, set(), None, set()),
    "lr_too_large": (1, {"lr_too_large"}, set(), None, {"epochs", "loss", "lr"}),
    "device_dropped_to": (0, set(), {"device_dropped_to", "device_mixed"}, None, set()),
    "device_numpy": (0, set(), {"device_numpy"}, None, set()),
    "device_mixed": (0, set(), {"device_mixed"}, None, set()),
    "device_hard_coded": (
        2,
        set(),
        {"device_hard_coded"},
        ("AssertionError", "is_available()"),
        set(),
    ),
    "device_is_available_uncalled": (
        2,
        set(),
        {"device_is_available_uncalled"},
        ("AssertionError", "without ()"),
        set(),
    ),
    "missing_package": (2, set(), set(), ("ModuleNotFoundError", "pip install seaborn"), set()),
    "unused_missing_import": (2, set(), set(), ("ModuleNotFoundError", "never used"), set()),
    "out_of_order": (2, set(), set(), ("NameError", "out of order"), set()),
    "input_prompt": (2, set(), set(), ("NoKeyboard", "input()"), set()),
    "error_after_training": (2, set(), set(), ("NameError", "never defined"), set()),
    # planted for the class grader: the diagnosis's mechanics are all correct
    "part_data_line": (1, set(), set(), None, {"line"}),
    "part_data_points": (1, set(), set(), None, {"points"}),
    "part_predictions_with_grad": CORRECT,
    "part_predictions_missing": CORRECT,
    "part_weights_only_off": CORRECT,
    "part_not_loaded": CORRECT,
    "part_saved_untrained": CORRECT,
}


def test_every_notebook_is_in_the_table():
    on_disk = {p.stem for p in NOTEBOOKS.glob("*.ipynb")} - {"chapter"}
    assert on_disk == set(EXPECTED)
    assert len(on_disk) + 1 >= 25


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_notebook_gets_the_verdict_it_was_written_for(name):
    code, mistakes, warnings, error, differs = EXPECTED[name]
    report = diagnose_notebook(NOTEBOOKS / f"{name}.ipynb", load("exercise"))
    out = report.as_json()
    named = {d["id"] for loop in out["loops"] for d in loop["diagnosis"]}
    assert named == mistakes, report.lines()
    assert warnings <= {w["id"] for w in out["warnings"]}, report.lines()
    device = [w for w in out["warnings"] if w["id"].startswith("device_")]
    assert all(isinstance(w["cell"], int) and w["line"] for w in device), device
    if not any(w.startswith("device_") for w in warnings):
        assert not device, device  # no device warning where the code has none to give
    assert out["exit"] == code, report.lines()
    if error is None:
        assert out["error"] is None, report.lines()
        assert out["loops"] and all(loop["correct"] == (not mistakes) for loop in out["loops"])
    else:
        assert out["error"]["type"] == error[0] and error[1] in out["error"]["hint"], out["error"]
        assert isinstance(out["error"]["cell"], int) and out["error"]["line"] is not None
    if differs is not None:
        assert {d["setting"] for d in out["expect"]["differences"]} == differs, report.lines()
    json.dumps(out, allow_nan=False)  # the JSON is JSON: no NaN


def test_the_chapter_pasted_cell_by_cell_is_correct_with_its_printed_numbers():
    report = diagnose_notebook(NOTEBOOKS / "chapter.ipynb", load("chapter"))
    (loop,) = report.as_json()["loops"]
    assert loop["correct"] and report.exit_code() == 0, report.lines()
    assert (loop["epochs"], loop["seed"], loop["loss"], loop["optimizer"]) == (100, 42, "l1", "sgd")
    assert (
        round(loop["final"]["weight"][0], 4) == 0.5784 and round(loop["final"]["bias"], 4) == 0.3513
    )
    assert (
        round(loop["start"]["weight"][0], 4) == 0.3367 and round(loop["start"]["bias"], 4) == 0.1288
    )
    assert report.expect == {"spec": "the chapter", "differences": []}
    assert loop["data"]["points"] == 50 and loop["data"]["split"] == 0.8


def test_a_loop_after_an_error_still_reports_and_the_error_names_its_cell():
    out = diagnose_notebook(NOTEBOOKS / "error_after_training.ipynb").as_json()
    assert out["error"]["cell"] == 6 and out["error"]["line"] == 2
    assert len(out["loops"]) == 1 and out["loops"][0]["correct"]


def test_two_loops_in_one_notebook_are_two_loops_with_their_own_cells():
    out = diagnose_notebook(NOTEBOOKS / "two_models.ipynb").as_json()
    assert [(lp["cell"], lp["optimizer"], lp["epochs"]) for lp in out["loops"]] == [
        (5, "sgd", 100), (9, "adam", 200)]  # fmt: skip
    assert out["expect"] is None and out["exit"] == 0  # without --expect: mechanics only


def test_mini_batches_count_epochs_by_passes_over_the_loader():
    (loop,) = diagnose_notebook(NOTEBOOKS / "mini_batches.ipynb").as_json()["loops"]
    assert (loop["epochs"], loop["steps"], loop["data"]["train_points"]) == (30, 150, 80)
    assert loop["correct"]
