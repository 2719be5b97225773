"""A class at once: every submission graded, one row each written as it finishes, and
each student's feedback.txt; one failing submission never stops the others."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from compare.exercises.grade import (
    grade_folder,
    load_points,
    new_seed,
)
from compare.exercises.results import (
    Gradebook,
    GradeError,
    one_line,
    points_text,
)
from compare.files import atomic_write
from compare.sandbox import Limits
from compare.sandbox_tasks import Pool

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

    pool = Pool(limits or Limits(), hide=(root,))  # sandboxes kept for the whole class

    def one(folder: Path) -> None:
        try:
            book: Gradebook | tuple[str, str] = grade_folder(
                folder, None, seed, limits, points, jobs=1, pool=pool
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
    try:
        with ThreadPoolExecutor(workers) as threads:
            for future in [threads.submit(one, f) for f in todo]:
                future.result()
    finally:
        pool.close()
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
            theirs = {c.removeprefix("task") for c in header or [] if c.startswith("task")}
            new = [n for n in _counted(points) if str(n) not in theirs]
            if header and header[0] == "student" and theirs and new:
                zero = " and ".join(f"{n} = 0" for n in new)
                raise GradeError(
                    f"--resume: {out} has no column for task {', '.join(map(str, new))} "
                    f"(written before it existed?); to go on with it, give {zero} in a "
                    "--points file, or grade into a new --out"
                )
            raise GradeError(
                f"--resume: {out} was written with other columns (other points?); "
                "grade into a new --out instead"
            )
        return {row[0]: row for row in reader if row}


def _counted(points: dict[int, float]) -> list[int]:
    """The tasks a class is graded on: a task worth 0 is not run, and has no column."""
    return sorted(n for n, worth in points.items() if worth > 0)


def _header(points: dict[int, float]) -> list[str]:
    return ["student", *(f"task{n}" for n in _counted(points)), "total", "maximum", "note"]


def _row(r: Gradebook | tuple[str, str], points: dict[int, float]) -> list[str]:
    numbers = _counted(points)
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
