"""Grade a student's copy task by task, each in its own sandboxed child; one student or a batch.

The grader draws its inputs from a seed it prints (`--seed` replays a run exactly), computes
every reference with torch in this process, and sends the child only the inputs. Points are
split evenly over a task's cases, so a task with separable cases earns partial credit.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compare.exercises.checks import CHECKS, error_line
from compare.exercises.tasks import BY_NUMBER, TASKS
from compare.sandbox import Limits, run_child

if TYPE_CHECKING:
    pass

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib
from compare.exercises.results import (
    Gradebook,
    GradeError,
    TaskResult,
)
from compare.exercises.scan import (
    torch_imports,
)

# ------------------------------------------------------------------------------ the grading


def new_seed() -> int:
    """A fresh seed for a grading run."""
    return secrets.randbelow(2**31)


def load_points(path: Path | None) -> dict[int, float]:
    """Points per task: the defaults, overridden by an instructor's TOML file.

    The file holds a [points] table of task number = points, e.g. `8 = 20`.
    """
    points = {t.number: t.points for t in TASKS}
    if path is None:
        return points
    try:
        table = tomllib.loads(path.read_text()).get("points")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise GradeError(f"--points {path}: cannot read it as TOML ({e})") from None
    if not isinstance(table, dict):
        raise GradeError(f"--points {path}: needs a [points] table, e.g. [points] 8 = 20")
    for key, value in table.items():
        if not (str(key).isdigit() and int(key) in points):
            raise GradeError(f"--points {path}: {key!r} is not a task number (1 to {len(TASKS)})")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise GradeError(f"--points {path}: task {key} is worth {value!r}; give a number >= 0")
        points[int(key)] = float(value)
    return points


def grade_task(
    folder: Path,
    number: int,
    seed: int,
    limits: Limits | None = None,
    points: dict[int, float] | None = None,
    torch_use: dict[str, str] | None = None,
) -> TaskResult:
    """Grade one task of the copy in `folder` in a child of its own."""
    task = BY_NUMBER[number]
    worth = (points or load_points(None))[number]
    torch_use = torch_imports(folder) if torch_use is None else torch_use
    hand = task.package == "manual"
    offending = next((torch_use[m] for m in task.modules if hand and m in torch_use), None)
    if offending is not None:
        return _failed(
            task.number,
            task.name,
            worth,
            f"{offending} uses torch; the hand-derived tasks may not",
            "derive it by hand with NumPy: that is the exercise",
        )
    build, judge = CHECKS[number]
    plan = build(np.random.default_rng([seed, number]))
    try:
        request = {"task": number, "package": task.package, **plan.request}
        child = run_child(
            folder, request, limits or Limits(), torch_allowed=not hand, shared=plan.shared
        )
        if child.answer is None:
            return _failed(number, task.name, worth, child.failure, _stderr_hint(child.stderr_tail))
        if "error" in child.answer:
            message, hint = error_line(child.answer["error"])
            hint = hint or f"run 'pytest -m task{number}' in your folder for the whole error"
            return _failed(number, task.name, worth, message, hint)
        try:
            cases = judge(child.answer.get("ok", {}), plan)
        except Exception as e:  # a judge that cannot read the answer fails this task alone
            message, hint = _unjudged(child.answer.get("ok"), e)
            return _failed(number, task.name, worth, message, hint)
    finally:
        plan.cleanup()
    passed = [c for c in cases if c.passed]
    first = next((c for c in cases if not c.passed), None)
    diffs = [c.maxdiff for c in cases if c.maxdiff is not None]
    return TaskResult(
        number=number,
        name=task.name,
        passed=first is None,
        points=round(worth * len(passed) / len(cases), 2) if cases else 0.0,
        max_points=worth,
        maxdiff=max(diffs) if diffs else None,
        message="" if first is None else f"{first.name}: {first.message}",
        hint="" if first is None else first.hint,
        cases=cases,
    )


def _unjudged(answer: object, e: Exception) -> tuple[str, str]:
    """Why an answer could not be judged: the student's own error inside it, if there is one."""
    error = _first_error(answer)
    if error is not None:
        message, hint = error_line(error)
        return message, hint or "your code raised this on one of the cases"
    return f"the answer could not be judged ({type(e).__name__}: {e})", ""


def _first_error(value: object, depth: int = 0) -> dict[str, Any] | None:
    """The first {"__error__": …} a child put in its answer, searched a few levels deep."""
    if depth > 6:
        return None
    if isinstance(value, dict):
        if isinstance(value.get("__error__"), dict):
            return value["__error__"]
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _first_error(item, depth + 1)
            if found is not None:
                return found
    return None


def _failed(number: int, name: str, worth: float, message: str, hint: str) -> TaskResult:
    return TaskResult(number, name, False, 0.0, worth, None, message, hint)


def _stderr_hint(tail: str) -> str:
    last = tail.strip().splitlines()[-1] if tail.strip() else ""
    return f"the last thing printed was: {last[:160]}" if last else ""


def grade_folder(
    folder: Path,
    numbers: Sequence[int] | None = None,
    seed: int | None = None,
    limits: Limits | None = None,
    points: dict[int, float] | None = None,
    student: str | None = None,
    jobs: int = 2,
) -> Gradebook:
    """Grade `numbers` (default: every task) of the student copy in `folder`."""
    if not (folder / "manual").is_dir():
        raise GradeError(
            f"{folder} has no manual/ folder; run 'gradcompare exercises new {folder}' first"
        )
    seed = new_seed() if seed is None else seed
    points = points or load_points(None)
    use = torch_imports(folder)
    numbers = list(numbers) if numbers else [t.number for t in TASKS]
    with ThreadPoolExecutor(max(1, min(jobs, len(numbers)))) as pool:
        results = list(
            pool.map(lambda n: grade_task(folder, n, seed, limits, points, use), numbers)
        )
    return Gradebook(student or folder.resolve().name, seed, results)


def check(folder: str | Path, task: int | None = None, seed: int | None = None) -> Gradebook:
    """Grade a student copy from Python or a notebook; the result renders as a table."""
    return grade_folder(Path(folder), [task] if task else None, seed)
