"""Grade a student's copy task by task, each in its own sandboxed child; one student or a batch.

The grader draws its inputs from a seed it prints (`--seed` replays a run exactly), computes
every reference with torch in this process, and sends the child only the inputs. Points are
split evenly over a task's cases, so a task with separable cases earns partial credit.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import html
import io
import json
import os
import secrets
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compare.exercises.checks import CHECKS, NOT_WRITTEN, Case, error_line
from compare.exercises.tasks import BY_NUMBER, TASKS
from compare.files import atomic_write
from compare.sandbox import Limits, run_child

if TYPE_CHECKING:
    from matplotlib.figure import Figure

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def one_line(text: str, limit: int = 400) -> str:
    """Text as one printable line: newlines and control characters become spaces, capped.

    A student's exception message cannot start a line of its own in feedback.txt (a fake
    "PASS … 160/160"), nor move the cursor of an instructor's terminal.
    """
    flat = "".join(c if c.isprintable() else " " for c in str(text))
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5, 7, 8] as '1–3, 5, 7–8'."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


class GradeError(ValueError):
    """The grading cannot start as asked (no such folder, a bad points file, …)."""


@dataclass
class TaskResult:
    """One task's grade."""

    number: int  # task number
    name: str  # task name
    passed: bool  # every case held
    points: float  # earned, out of max_points
    max_points: float  # what the task is worth
    maxdiff: float | None  # largest |student - torch| over the cases that compared numbers
    message: str  # the first thing that went wrong (empty on pass)
    hint: str  # the likely mistake (empty on pass)
    cases: list[Case] = field(default_factory=list)  # each case's own verdict

    def __post_init__(self) -> None:
        # Student text (exception messages) reaches feedback files: one plain line each.
        self.message, self.hint = one_line(self.message), one_line(self.hint)

    def line(self) -> str:
        """`PASS task 3 …  10/10` or `FAIL task 3 …  4/10: message (maxdiff …); hint: …`."""
        score = f"{points_text(self.points)}/{points_text(self.max_points)}"
        head = f"{'PASS' if self.passed else 'FAIL'}  task {self.number:>2}  {self.name}  {score}"
        if self.passed:
            return head
        diff = f" (maxdiff {self.maxdiff:.2e})" if self.maxdiff is not None else ""
        hint = f"; hint: {self.hint}" if self.hint else ""
        return f"{head}: {self.message}{diff}{hint}"

    def as_json(self) -> dict[str, Any]:
        """The result as JSON-ready values."""
        return {**asdict(self), "cases": [asdict(c) for c in self.cases]}


@dataclass
class Gradebook:
    """One student's grades: per task, the total, and the seed that replays them."""

    student: str  # the folder's name, or --student
    seed: int  # replays the drawn inputs exactly
    tasks: list[TaskResult]  # in task order

    @property
    def total(self) -> float:
        """Points earned."""
        return round(sum(t.points for t in self.tasks), 2)

    @property
    def maximum(self) -> float:
        """Points available."""
        return round(sum(t.max_points for t in self.tasks), 2)

    @property
    def passed(self) -> bool:
        """Every graded task passed."""
        return all(t.passed for t in self.tasks)

    def lines(self) -> list[str]:
        """What `gradcompare exercises check` prints."""
        n_pass = sum(t.passed for t in self.tasks)
        untouched = [t for t in self.tasks if not t.passed and t.message == NOT_WRITTEN]
        shown = [t.line() for t in self.tasks if t not in untouched]
        if len(untouched) > 1:  # one line, not one per stub: the real results stay in sight
            worth = points_text(sum(t.max_points for t in untouched))
            shown.append(
                f"FAIL  tasks {_ranges([t.number for t in untouched])}  0/{worth}: "
                f"{NOT_WRITTEN}; hint: {untouched[0].hint}"
            )
        elif untouched:
            shown.append(untouched[0].line())
        return [
            *shown,
            f"{n_pass} passed, {len(self.tasks) - n_pass} failed; "
            f"{points_text(self.total)}/{points_text(self.maximum)} points (seed {self.seed})",
        ]

    def as_json(self) -> dict[str, Any]:
        """student, seed, per-task results, total and maximum."""
        return {
            "student": self.student,
            "seed": self.seed,
            "tasks": [t.as_json() for t in self.tasks],
            "total": self.total,
            "maximum": self.maximum,
        }

    def plot(self) -> Figure:
        """Points per task against the task's worth, passed in green, failed in red."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 5), dpi=100)
        ax = fig.subplots()
        numbers = [t.number for t in self.tasks]
        ax.bar(numbers, [t.max_points for t in self.tasks], color="0.9", label="worth")
        ax.bar(numbers, [t.points for t in self.tasks], label="earned",
               color=["tab:green" if t.passed else "tab:red" for t in self.tasks])  # fmt: skip
        ax.set_xticks(numbers)
        ax.set_xlabel("task")
        ax.set_ylabel("points")
        score = f"{points_text(self.total)}/{points_text(self.maximum)}"
        ax.set_title(f"{self.student}: {score} points (seed {self.seed})")
        ax.legend()
        fig.tight_layout()
        return fig

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr style='background:{'#e8f5e9' if t.passed else '#ffebee'}'>"
            f"<td>{t.number}</td><td>{html.escape(t.name)}</td>"
            f"<td>{'PASS' if t.passed else 'FAIL'}</td>"
            f"<td>{points_text(t.points)}/{points_text(t.max_points)}</td>"
            f"<td>{'' if t.maxdiff is None else f'{t.maxdiff:.1e}'}</td>"
            f"<td>{html.escape(t.message)}</td><td>{html.escape(t.hint)}</td></tr>"
            for t in self.tasks
        )
        head = "".join(
            f"<th>{h}</th>"
            for h in ("task", "what", "result", "points", "maxdiff", "message", "hint")
        )
        return (
            f"<p><b>{html.escape(self.student)}</b>: "
            f"{points_text(self.total)}/{points_text(self.maximum)} "
            f"points, seed {self.seed}</p><table><tr>{head}</tr>{rows}</table>"
        )


def points_text(x: float) -> str:
    return f"{x:g}"


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


def torch_imports(folder: Path) -> dict[str, str]:
    """manual/ modules that import torch when imported (directly or through another), and where."""
    direct: dict[str, str] = {}
    uses: dict[str, set[str]] = {}
    for path in sorted((folder / "manual").glob("*.py")):
        name = path.stem
        try:
            tree = ast.parse(path.read_text())
        except (SyntaxError, ValueError, OSError):
            continue  # the child reports a syntax error with its line
        uses[name] = set()
        for node in _module_level(tree):
            roots = _imported(node)
            for root in roots:
                if root == "torch" and name not in direct:
                    direct[name] = f"manual/{path.name} line {getattr(node, 'lineno', '?')}"
                elif root.startswith("manual."):
                    uses[name].add(root.split(".")[1])
    found = dict(direct)
    changed = True
    while changed:  # through helper modules: a module using one that uses torch uses torch
        changed = False
        for name, deps in uses.items():
            via = next((d for d in sorted(deps) if d in found), None)
            if name not in found and via is not None:
                found[name] = f"{found[via]} (through manual/{via}.py)"
                changed = True
    return found


def _module_level(tree: ast.Module) -> list[ast.AST]:
    """Nodes that run when the module is imported: not inside a def or a class.

    An import inside a function is caught when it runs (probe.NoTorch), failing only the
    task that calls it; one at module level fails every task that imports the module.
    """
    out: list[ast.AST] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def _imported(node: ast.AST) -> list[str]:
    """Module names an AST node imports, including __import__("x") and import_module("x")."""
    if isinstance(node, ast.Import):
        return [a.name if a.name.startswith("manual") else a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        if node.level == 1:
            return [f"manual.{node.module}"]
        if node.module == "manual":
            return [f"manual.{a.name}" for a in node.names]
        return [node.module if node.module.startswith("manual.") else node.module.split(".")[0]]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in ("__import__", "import_module") and isinstance(node.args[0].value, str):
            return [str(node.args[0].value).split(".")[0]]
    return []


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


# ------------------------------------------------------------------------------ batches


def submissions(root: Path) -> list[Path]:
    """Every sub-folder of `root`, one per student, hidden ones and backups left out."""
    if not root.is_dir():
        raise GradeError(f"{root} is not a folder of submissions (one sub-folder per student)")
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and ".bak-" not in p.name
    )


def grade_batch(
    root: Path,
    out: Path,
    seed: int | None = None,
    limits: Limits | None = None,
    points: dict[int, float] | None = None,
    jobs: int | None = None,
    resume: bool = False,
) -> list[Gradebook | tuple[str, str]]:
    """Grade every submission into one CSV row each, and a feedback.txt in each folder.

    A submission that cannot be graded at all becomes a row of zeros with its reason, and a
    failure of the grader's own on one submission is that row's reason: the batch goes on.
    The CSV is rewritten atomically as each student finishes, so an interrupted batch keeps
    every row it graded; `resume` keeps those rows and grades only the students missing.
    """
    folders = submissions(root)
    if not out.parent.is_dir():
        raise GradeError(f"--out {out}: folder {out.parent} does not exist; create it first")
    seed = new_seed() if seed is None else seed
    points = points or load_points(None)
    done: dict[str, list[str]] = _rows_of(out, points) if resume else {}
    results: dict[str, Gradebook | tuple[str, str]] = {}
    lock = threading.Lock()

    def one(folder: Path) -> None:
        try:
            book: Gradebook | tuple[str, str] = grade_folder(
                folder, None, seed, limits, points, jobs=1
            )
        except GradeError as e:
            book = (folder.name, str(e))
        except Exception as e:  # the grader's own failure: this student's row says so
            book = (folder.name, one_line(f"not graded: {type(e).__name__}: {e}"))
        if isinstance(book, Gradebook):
            _feedback(folder, book)
        with lock:
            results[folder.name] = book
            _write_rows(out, done, results, points)

    todo = [f for f in folders if f.name not in done]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(one, f) for f in todo]:
            future.result()
    if not todo:  # everyone was graded before: the file still says so, header and all
        _write_rows(out, done, results, points)
    return [results[f.name] for f in todo]


def _write_rows(
    out: Path,
    done: dict[str, list[str]],
    results: dict[str, Gradebook | tuple[str, str]],
    points: dict[int, float],
) -> None:
    """The CSV as it stands: rows kept from a resumed run, then those graded now, by name."""
    rows = {**done, **{name: _row(r, points) for name, r in results.items()}}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_header(points))
    for name in sorted(rows):
        writer.writerow(rows[name])
    atomic_write(out, buffer.getvalue().encode())


def _rows_of(out: Path, points: dict[int, float]) -> dict[str, list[str]]:
    """The rows an earlier (interrupted) run of the same batch wrote, by student."""
    if not out.is_file():
        return {}
    with out.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != _header(points):
            raise GradeError(
                f"--resume: {out} was written with other columns (other points?); "
                "grade into a new --out instead"
            )
        return {row[0]: row for row in reader if row}


def _header(points: dict[int, float]) -> list[str]:
    return ["student", *(f"task{n}" for n in sorted(points)), "total", "maximum", "note"]


def _row(r: Gradebook | tuple[str, str], points: dict[int, float]) -> list[str]:
    numbers = sorted(points)
    maximum = points_text(sum(points.values()))
    if isinstance(r, Gradebook):
        by = {t.number: t.points for t in r.tasks}
        scores = [points_text(by.get(n, 0.0)) for n in numbers]
        return [r.student, *scores, points_text(r.total), maximum, f"seed {r.seed}"]
    return [r[0], *("0" for _ in numbers), "0", maximum, r[1]]


def _feedback(folder: Path, book: Gradebook) -> None:
    text = "\n".join([f"Feedback for {book.student}", "", *book.lines(), ""])
    with contextlib.suppress(OSError):  # a read-only submission still gets its CSV row
        atomic_write(folder / "feedback.txt", text.encode())


def dumps(book: Gradebook) -> str:
    """The gradebook as indented JSON."""
    return json.dumps(book.as_json(), indent=2)
