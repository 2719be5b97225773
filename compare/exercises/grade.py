"""Grade a student's copy task by task, each in a child of its own; one student or a batch.

The grader draws its inputs from a seed it prints (`--seed` replays a run exactly), computes
every reference with torch in this process, and sends the child only the inputs. Points are
split evenly over a task's cases, so a task with separable cases earns partial credit.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from compare.exercises.checks import CHECKS, error_line
from compare.exercises.checks.common import Plan
from compare.exercises.tasks import BY_NUMBER, TASKS
from compare.sandbox import ChildResult, Limits
from compare.sandbox_tasks import Pool

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
    """Grade one task of the copy in `folder`."""
    return grade_tasks(folder, [number], seed, limits, points, torch_use)[0]


def grade_tasks(
    folder: Path,
    numbers: Sequence[int],
    seed: int,
    limits: Limits | None = None,
    points: dict[int, float] | None = None,
    torch_use: dict[str, str] | None = None,
    jobs: int = 1,
    pool: Pool | None = None,
) -> list[TaskResult]:
    """Grade `numbers` of the copy in `folder`, staged into this thread's sandboxes of `pool`
    (a pool of its own by default): the by-hand tasks where torch is hidden, the torch tasks
    in the other, each task a child forked there (compare/sandbox_tasks.py)."""
    worth = points or load_points(None)
    torch_use = torch_imports(folder) if torch_use is None else torch_use
    own = pool is None
    pool = pool or Pool(limits or Limits(), hide=(folder.resolve().parent,))
    worker = pool.worker()
    results: dict[int, TaskResult] = {}
    plans: dict[int, Plan] = {}
    try:
        worker.stage(folder)
        for number in numbers:
            refused = _refused(number, worth[number], torch_use)
            if refused is not None:
                results[number] = refused
            else:
                build, _ = CHECKS[number]
                make = partial(build, np.random.default_rng([seed, number]), worker.saves)
                plans[number] = pool.kept((seed, number), make, lambda p: p.shared is None)

        def run(package: str) -> None:
            for n in (n for n in plans if BY_NUMBER[n].package == package):
                request = {"task": n, "package": package, **plans[n].request}
                child = worker.run(request, torch_allowed=package != "manual")
                results[n] = _judged(n, child, plans[n], worth[n])

        if jobs > 1 and own:  # both sandboxes at once; they die with this call's threads
            with ThreadPoolExecutor(2) as threads:
                list(threads.map(run, ("manual", "torch_impl")))
        else:
            for package in ("manual", "torch_impl"):
                run(package)
    finally:
        for plan in plans.values():
            if plan.shared is not None:  # the others are kept by the pool, for the class
                plan.cleanup()
        if own:
            pool.close()
    return [results[n] for n in numbers]


def _refused(number: int, worth: float, torch_use: dict[str, str]) -> TaskResult | None:
    """A by-hand task whose modules import torch fails before anything runs."""
    task = BY_NUMBER[number]
    hand = task.package == "manual"
    offending = next((torch_use[m] for m in task.modules if hand and m in torch_use), None)
    if offending is None:
        return None
    return _failed(
        number,
        task.name,
        worth,
        f"{offending} uses torch; the hand-derived tasks may not",
        "derive it by hand with NumPy: that is the exercise",
    )


def _judged(number: int, child: ChildResult, plan: Plan, worth: float) -> TaskResult:
    """The task's result from its child's answer, judged here against torch."""
    name = BY_NUMBER[number].name
    if child.answer is None:
        return _failed(number, name, worth, child.failure, _stderr_hint(child.stderr_tail))
    if "error" in child.answer:
        message, hint = error_line(child.answer["error"])
        hint = hint or f"run 'pytest -m task{number}' in your folder for the whole error"
        return _failed(number, name, worth, message, hint)
    _, judge = CHECKS[number]
    try:
        cases = judge(child.answer.get("ok", {}), plan)
    except Exception as e:  # a judge that cannot read the answer fails this task alone
        message, hint = _unjudged(child.answer.get("ok"), e)
        return _failed(number, name, worth, message, hint)
    passed = [c for c in cases if c.passed]
    first = next((c for c in cases if not c.passed), None)
    diffs = [c.maxdiff for c in cases if c.maxdiff is not None]
    return TaskResult(
        number=number,
        name=name,
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
    pool: Pool | None = None,
) -> Gradebook:
    """Grade `numbers` (default: every task) of the student copy in `folder`."""
    if not (folder / "manual").is_dir():
        raise GradeError(
            f"{folder} has no manual/ folder; run 'gradcompare exercises new {folder}' first"
        )
    seed = new_seed() if seed is None else seed
    points = points or load_points(None)
    use = torch_imports(folder)
    # Every task but those worth 0 (a class handed copies from before a task existed).
    numbers = list(numbers) if numbers else [t.number for t in TASKS if points[t.number] > 0]
    results = grade_tasks(folder, numbers, seed, limits, points, use, jobs, pool)
    return Gradebook(student or folder.resolve().name, seed, results)


def check(folder: str | Path, task: int | None = None, seed: int | None = None) -> Gradebook:
    """Grade a student copy from Python or a notebook; the result renders as a table."""
    return grade_folder(Path(folder), [task] if task else None, seed)
