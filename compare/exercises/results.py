"""A student's grades as data: one TaskResult per task, a Gradebook per student, as text,
JSON, HTML and a figure."""

from __future__ import annotations

import html
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from compare.exercises.checks import NOT_WRITTEN, Case

if TYPE_CHECKING:
    from matplotlib.figure import Figure

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - Python 3.10
    pass


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


def dumps(book: Gradebook) -> str:
    """The gradebook as indented JSON."""
    return json.dumps(book.as_json(), indent=2)
