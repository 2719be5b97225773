"""Grading a class of 40 exercise notebooks against running one plain, in the same run.

    python -m pytest benchmarks/test_grading_notebooks.py --benchmark-only -n 0 -s

The target: the class takes at most the plain run time of one notebook (nbclient on an
ipykernel, kernel start included) × 40 ÷ the number of cores. The ratio is printed and kept
in extra_info; no timed test asserts it.
"""

import os
import shutil
from pathlib import Path

from test_diagnose_notebook import plain_s  # benchmarks/ is on sys.path (rootdir conftest)

from compare.notebooks.class_grades import grade_class
from compare.notebooks.expect import EXERCISE
from compare.notebooks.grading import load_points

CLASS = 40
NOTEBOOK = (
    Path(__file__).resolve().parents[1]
    / "docs"
    / "mistakes"
    / "notebooks"
    / "exercise_linear.ipynb"
)


def test_a_class_of_40_notebooks_against_one_plain_run(benchmark, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    subs = tmp_path / "subs"
    subs.mkdir()
    for i in range(CLASS):
        shutil.copyfile(NOTEBOOK, subs / f"student{i:02d}.ipynb")
    one = tmp_path / "one" / NOTEBOOK.name
    one.parent.mkdir()
    shutil.copyfile(NOTEBOOK, one)
    plain = plain_s(one)
    cores = len(os.sched_getaffinity(0))

    def grade() -> None:
        grade_class(subs, tmp_path / "grades.csv", EXERCISE, load_points(None), jobs=cores)

    benchmark.pedantic(grade, rounds=1, iterations=1)
    took = benchmark.stats.stats.median
    target = plain * CLASS / cores
    benchmark.extra_info.update(plain_s=plain, class_s=took, cores=cores, ratio=took / target)
    print(f"\n{CLASS} notebooks on {cores} cores: {took:.1f} s; one plain run {plain:.2f} s, "
          f"so the target is {target:.1f} s; {took / target:.2f}× the target")  # fmt: skip
