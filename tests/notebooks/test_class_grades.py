"""Grading the chapter's exercise notebook for a class: every row holds the right points.

The class is the learner notebooks of docs/mistakes/notebooks/, each written with one
planted mistake: the correct ones get full marks, each mistake loses its own part's points
and no other part's, and a notebook that stops before training gets 0 for training and a
one-line reason. One broken notebook, or an empty folder, is a row, never the class's end.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compare.notebooks.grading import PointsError, load_points

NOTEBOOKS = Path(__file__).resolve().parents[2] / "docs" / "mistakes" / "notebooks"
FULL = {"data": 20, "model": 10, "training": 40, "predictions": 10, "save_load": 20}
ZERO: dict[str, float] = dict.fromkeys(FULL, 0.0)

# student: (the points of each part that differ from full marks, a word of the reason)
CLASS: dict[str, tuple[dict[str, float], str]] = {
    "exercise_linear": ({}, ""),
    "part_data_line": ({"data": 13.33}, ""),
    "part_data_points": ({"data": 13.33}, ""),
    "part_predictions_with_grad": ({"predictions": 5}, ""),
    "part_predictions_missing": ({"predictions": 0}, ""),
    "part_weights_only_off": ({"save_load": 13.33}, ""),
    "part_not_loaded": ({"save_load": 6.67}, ""),
    "part_saved_untrained": ({"save_load": 13.33}, ""),
    "no_seed": ({"model": 6.67}, ""),
    "no_zero_grad": ({"training": 30}, ""),
    "settings_epochs_lr": ({"training": 30}, ""),
    "test_with_grad": ({"training": 30}, ""),
    "error_after_training": ({"predictions": 0, "save_load": 0}, "cell 6 line 2: NameError"),
    "device_hard_coded": (ZERO, "cell 2 line 8: AssertionError"),
    "missing_package": (ZERO, "pip install seaborn"),
}


def class_folder(root: Path) -> Path:
    subs = root / "subs"
    subs.mkdir()
    for name in CLASS:
        if name == "exercise_linear":  # a folder submission, with a file of its own beside it
            (subs / name).mkdir()
            shutil.copyfile(NOTEBOOKS / f"{name}.ipynb", subs / name / "exercise.ipynb")
            (subs / name / "notes.txt").write_text("my notes\n")
        else:
            shutil.copyfile(NOTEBOOKS / f"{name}.ipynb", subs / f"{name}.ipynb")
    (subs / "broken").mkdir()
    (subs / "broken" / "nb.ipynb").write_text("{not json")
    (subs / "empty").mkdir()
    return subs


def test_every_row_holds_the_right_points_and_each_mistake_only_its_own(tmp_path):
    subs = class_folder(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "compare", "exercises", "grade-notebooks", str(subs),
         "--out", str(tmp_path / "grades.csv"), "--gradescope", str(tmp_path / "gs"), "--jobs", "2"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    rows = {r["student"]: r for r in csv.DictReader((tmp_path / "grades.csv").open())}
    assert set(rows) == {*CLASS, "broken", "empty"}
    for student, (changed, reason) in CLASS.items():
        want = {**FULL, **changed}
        got = {part: float(rows[student][part]) for part in FULL}
        assert got == pytest.approx(want, abs=0.01), (student, rows[student])
        assert float(rows[student]["total"]) == pytest.approx(sum(want.values()), abs=0.02)
        assert (reason in rows[student]["reason"]) and (
            bool(reason) == bool(rows[student]["reason"])
        )
        assert "\n" not in rows[student]["reason"]
    assert rows["broken"]["total"] == "0" and "not a notebook" in rows["broken"]["reason"]
    assert "tmp" not in rows["broken"]["reason"]  # the student's own name, not the grader's path
    assert rows["empty"]["reason"] == "holds no notebook"
    feedback = (subs / "no_zero_grad.feedback.txt").read_text()
    assert "FAIL every step is the hand-derived step" in feedback and "zero_grad()" in feedback
    assert (
        (subs / "exercise_linear" / "feedback.txt")
        .read_text()
        .startswith("Feedback for exercise_linear: 100 / 100")
    )
    result = json.loads((tmp_path / "gs" / "no_seed" / "results.json").read_text())
    assert result["score"] == pytest.approx(96.67)
    assert [(t["name"], t["max_score"]) for t in result["tests"]] == list(FULL.items())
    assert not any(p.suffix == ".pth" for p in tmp_path.rglob("*"))  # saved models stay in scratch


def test_points_come_from_a_toml_parts_table_and_a_bad_one_is_one_line(tmp_path):
    spec = tmp_path / "points.toml"
    spec.write_text("[parts]\ntraining = 60\ndata = 0\n")
    assert load_points(spec) == {**FULL, "training": 60.0, "data": 0.0}
    spec.write_text("[parts]\ntrainig = 60\n")
    with pytest.raises(PointsError, match="unknown part 'trainig'"):
        load_points(spec)
    out = subprocess.run(
        [sys.executable, "-m", "compare", "exercises", "grade-notebooks", str(tmp_path),
         "--out", str(tmp_path / "g.csv"), "--points", str(spec)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
