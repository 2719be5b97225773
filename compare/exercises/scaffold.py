"""`gradcompare exercises new`: a standalone student copy of manual/, solutions cut out."""

from __future__ import annotations

import re
import time
from pathlib import Path

import manual
from compare.exercises.tasks import BY_NUMBER, TASKS

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION task-(?P<n>\d+)\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")


class ScaffoldError(ValueError):
    """The destination cannot be written as asked."""


def strip_solutions(source: str) -> str:
    """Replace every solution region with `raise NotImplementedError("Task N: …")`."""
    out, inside = [], False
    for line in source.splitlines(keepends=True):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise ScaffoldError("nested BEGIN SOLUTION markers")
            inside = True
            n = int(begin["n"])
            out.append(
                f'{begin["indent"]}raise NotImplementedError("Task {n}: {BY_NUMBER[n].name}")\n'
            )
        elif END.match(line):
            if not inside:
                raise ScaffoldError("END SOLUTION without BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ScaffoldError("BEGIN SOLUTION without END")
    return "".join(out)


# Files a student copy leaves out: they hold tasks 3-6 written another way, so they are keys.
KEY_ONLY = ("manual/fast.py", "torch_impl/nograd.py", "torch_impl/compiled.py")
PACKAGES = ("manual", "torch_impl")

PYTEST_INI = """[pytest]
pythonpath = .
testpaths = tests
addopts = -ra --strict-markers -p no:benchmark
markers =
{markers}
"""

TEST_FILE = '''"""One test per task: `pytest` grades all, `pytest -m task3` grades task 3.

Each task runs in its own child process with the grader's time, CPU and memory limits,
exactly as `gradcompare exercises check` runs it.
"""

from pathlib import Path

import pytest

from compare.exercises.grade import grade_task, new_seed
from compare.exercises.tasks import TASKS

HERE = Path(__file__).resolve().parent.parent
SEED = new_seed()


@pytest.mark.parametrize(
    "number", [pytest.param(t.number, marks=getattr(pytest.mark, f"task{t.number}")) for t in TASKS]
)
def test_task(number):
    result = grade_task(HERE, number, SEED)
    assert result.passed, f"{result.line()} (seed {SEED})"
'''

README = """# Exercises: linear regression with gradients by hand

Each `raise NotImplementedError("Task N: …")` in `manual/` (tasks 1-12, 17 and 18, by hand in
NumPy) and `torch_impl/` (tasks 13-16, the chapter's PyTorch workflow) marks code to write; the
docstring above it gives the formula. Grade your work with either of

    gradcompare exercises check .          # every task, one line each
    gradcompare exercises check . --task 3
    pytest -m task3                        # the same grade, as a test

The grader compares your code with PyTorch autograd and torch.optim, on the course's numbers
and on inputs it draws fresh each time (the seed is printed; `--seed` replays it). Each task
runs in its own process with time and memory limits.

Rules: the code in `manual/` is derived by hand, so it may not import or call torch, directly
or through another module; a task that does fails with a line saying so. Histories are lists
of Python floats; a checkpoint may store them as float64 (or any float type that holds them
exactly).

| task | what | where |
|---|---|---|
{rows}
"""


def new_copy(
    dest: Path, with_solutions: bool = False, force: bool = False
) -> tuple[list[Path], Path | None]:
    """Write the student package (or, with_solutions, the instructor's key) into `dest`.

    With `force`, an existing `dest` is moved aside to `dest.bak-<time>` first, never overwritten:
    returns the files written and where the old folder went (None if nothing was moved).
    """
    if dest.exists() and not dest.is_dir():
        raise ScaffoldError(f"{dest} exists and is not a folder")
    moved = None
    if dest.is_dir() and any(dest.iterdir()):
        if not force:
            raise ScaffoldError(
                f"{dest} is not empty; choose a new folder, or pass --force to move it aside"
            )
        moved = dest.with_name(f"{dest.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
        suffix = 1
        while moved.exists():
            moved = moved.with_name(f"{moved.name.split('~')[0]}~{suffix}")
            suffix += 1
        dest.rename(moved)
    root = Path(str(manual.__file__)).parent.parent
    (dest / "tests").mkdir(parents=True, exist_ok=True)
    written = []
    for package in PACKAGES:
        (dest / package).mkdir(exist_ok=True)
        for path in sorted((root / package).rglob("*.py")):
            name = path.relative_to(root).as_posix()  # manual/optim/sgd.py: a family's file
            if (name in KEY_ONLY and not with_solutions) or "__pycache__" in name:
                continue
            text = path.read_text()
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text if with_solutions else strip_solutions(text))
            written.append(target)
    markers = "\n".join(f"    task{t.number}: {t.name}" for t in TASKS)
    rows = "\n".join(f"| {t.number} | {t.name} | `{t.where}` |" for t in TASKS)
    extra = {
        "pytest.ini": PYTEST_INI.format(markers=markers),
        "tests/test_tasks.py": TEST_FILE,
        "README.md": README.format(rows=rows),
    }
    for name, text in extra.items():
        (dest / name).write_text(text)
        written.append(dest / name)
    return written, moved
