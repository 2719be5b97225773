"""`gradcompare exercises check`: grade a student folder in a separate Python process.

A separate process keeps the student's `manual` apart from ours, and lets a hung student
file be stopped without stopping the checker.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from compare.exercises.checks import TIMEOUT_S, Result
from compare.exercises.tasks import BY_NUMBER


class CheckError(ValueError):
    """The folder cannot be graded at all."""


def check_folder(folder: Path, numbers: list[int], timeout: float = TIMEOUT_S) -> list[Result]:
    """Grade `numbers` in `folder`; a task the process never reported is a FAIL."""
    if not (folder / "manual").is_dir():
        raise CheckError(
            f"{folder} has no manual/ folder; run 'gradcompare exercises new {folder}'"
        )
    args = [str(folder), str(timeout), *map(str, numbers)]
    cmd = [sys.executable, "-m", "compare.exercises.checks", *args]
    budget = 60 + timeout * len(numbers)  # torch's import, then each task's own limit
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=budget, check=False)
        stdout = done.stdout
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
    results = {}
    for line in stdout.splitlines():
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        results[data["number"]] = Result(**data)
    for n in numbers:
        if n not in results:
            results[n] = Result(
                n,
                BY_NUMBER[n].name,
                False,
                None,
                "the grader stopped before this task (a hang or crash in your code?)",
                f"run 'pytest -m task{n}' for the full error",
            )
    return [results[n] for n in numbers]
