"""Grading a class on one machine, against its floor: one Python-with-torch start per student.

    python -m pytest benchmarks/test_grading.py --benchmark-only -n 0 -s

The floor is measured in the same run (a child that imports NumPy and torch, the least a
submission's torch tasks can cost); the batch is 12 copies of the key, graded as
`gradcompare exercises grade` grades them, on every usable core. The ratio is printed and
kept in the benchmark's extra_info; no timed test asserts it.
"""

import os
import statistics
import subprocess
import sys
import time

from compare.exercises.batch import grade_batch
from compare.exercises.scaffold import new_copy
from compare.isolation import bwrap_works

CLASS = 12  # key copies in the batch


def floor_s(repeats: int = 5) -> float:
    """The median time to start a Python that imports NumPy and torch."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, torch"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_a_class_against_the_floor(benchmark, tmp_path):
    subs = tmp_path / "subs"
    for i in range(CLASS):
        new_copy(subs / f"student{i:02d}", with_solutions=True)
    floor = floor_s()
    jobs = len(os.sched_getaffinity(0))

    def grade() -> None:
        grade_batch(subs, tmp_path / "grades.csv", seed=1, jobs=jobs)

    benchmark.pedantic(grade, rounds=1, iterations=1)
    per_student = benchmark.stats.stats.median / CLASS
    ratio = per_student * jobs / floor  # core-seconds per student, in floors
    benchmark.extra_info.update(
        floor_s=floor, per_student_s=per_student, cores=jobs, ratio_to_floor=ratio,
        isolation="bwrap" if bwrap_works() else "rlimits",
    )  # fmt: skip
    print(
        f"\n{CLASS} students on {jobs} cores: {per_student:.2f} s each (wall), "
        f"{per_student * jobs:.2f} core-s; floor {floor:.2f} s; {ratio:.1f}× the floor"
    )
