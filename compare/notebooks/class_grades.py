"""`gradcompare exercises grade-notebooks SUBS`: the chapter's exercise notebook, for a class.

SUBS holds one notebook per student: a `.ipynb` (the student is its name) or a folder holding
one (the student is the folder's name). Each notebook runs alone in the sandbox: a loose file
is first copied into a folder of its own, so no classmate's notebook is in its view. The
students are graded in parallel; the CSV (student, total, max, the five parts, reason) is
rewritten atomically as each one finishes, and one broken notebook is that student's row,
never the class's end. Each student gets a feedback file (FOLDER/feedback.txt, or
SUBS/NAME.feedback.txt), and with --gradescope DIR a DIR/NAME/results.json.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from compare.files import atomic_write
from compare.notebooks.expect import Expect
from compare.notebooks.grading import PARTS, NotebookGrade, grade
from compare.notebooks.run import diagnose_notebook
from compare.sandbox import Limits

FIELDS = ("student", "total", "max", *PARTS, "reason")


class ClassError(ValueError):
    """SUBS or --out cannot be used; one line says why."""


def notebooks_in(subs: Path) -> list[tuple[str, Path | None, str]]:
    """(student, notebook, why none) for each .ipynb in SUBS and each folder holding one."""
    if not subs.is_dir():
        raise ClassError(f"{subs} is not a folder of notebooks (one .ipynb, or one folder, each)")
    found: list[tuple[str, Path | None, str]] = []
    for p in sorted(subs.iterdir()):
        if p.name.startswith(".") or p.name.endswith(".feedback.txt"):
            continue
        if p.is_file() and p.suffix == ".ipynb":
            found.append((p.stem, p, ""))
        elif p.is_dir():
            books = sorted(q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
            if len(books) == 1:
                found.append((p.name, books[0], ""))
            else:
                why = (
                    "holds no notebook" if not books else f"holds {len(books)} notebooks; keep one"
                )
                found.append((p.name, None, why))
    return found


def grade_one(student: str, notebook: Path | None, why: str, expect: Expect,
              points: dict[str, float], limits: Limits | None) -> NotebookGrade:  # fmt: skip
    """One student's grade; whatever goes wrong is that student's reason."""
    if notebook is None:
        return NotebookGrade(student, points, reason=why)
    alone = Path(tempfile.mkdtemp(prefix="gradcompare-student-"))
    try:
        # Every notebook runs from a folder of its own: a loose file sits beside its
        # classmates, and a folder's neighbours are classmates too.
        target = alone / student / notebook.name
        target.parent.mkdir()
        shutil.copyfile(notebook, target)
        if notebook.parent.name == student:  # a folder submission: its data files come along
            for extra in notebook.parent.iterdir():
                if extra.is_file() and extra != notebook and extra.stat().st_size < 16 << 20:
                    shutil.copyfile(extra, target.parent / extra.name)
        report = diagnose_notebook(target, expect, limits)
        return grade(student, report, expect, points)
    except Exception as e:  # the grader's own failure on this one: a row, not a crash
        text = str(e).replace(str(alone / student) + "/", "")
        return NotebookGrade(student, points, reason=f"not graded: {text}"[:300])
    finally:
        shutil.rmtree(alone, ignore_errors=True)


def grade_class(subs: Path, out: Path, expect: Expect, points: dict[str, float],
                jobs: int | None = None, limits: Limits | None = None,
                gradescope: Path | None = None) -> list[NotebookGrade]:  # fmt: skip
    """Grade every notebook in SUBS into `out`, a feedback file each, in parallel."""
    students = notebooks_in(subs)
    if not out.parent.is_dir():
        raise ClassError(f"--out {out}: folder {out.parent} does not exist; create it first")
    grades: dict[str, NotebookGrade] = {}
    lock = threading.Lock()

    def one(entry: tuple[str, Path | None, str]) -> None:
        student, notebook, why = entry
        g = grade_one(student, notebook, why, expect, points, limits)
        feedback(subs, student, g)
        if gradescope is not None:
            with contextlib.suppress(OSError):
                (gradescope / student).mkdir(parents=True, exist_ok=True)
                atomic_write(gradescope / student / "results.json",
                             json.dumps(results_json(g), indent=2).encode())  # fmt: skip
        with lock:
            grades[student] = g
            write_rows(out, grades)

    workers = max(1, min(jobs or len(os.sched_getaffinity(0)), len(students) or 1))
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(one, s) for s in students]:
            future.result()
    write_rows(out, grades)
    return [grades[s] for s, _, _ in students]


def write_rows(out: Path, grades: dict[str, NotebookGrade]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    for name in sorted(grades):
        writer.writerow(grades[name].row())
    atomic_write(out, buffer.getvalue().encode())


def feedback(subs: Path, student: str, g: NotebookGrade) -> None:
    folder = subs / student
    path = folder / "feedback.txt" if folder.is_dir() else subs / f"{student}.feedback.txt"
    with contextlib.suppress(OSError):  # a read-only class folder still gets its CSV
        atomic_write(path, ("\n".join(g.lines()) + "\n").encode())


def results_json(g: NotebookGrade) -> dict[str, Any]:
    """Gradescope's results.json: the score, and one test per part, with its checks."""
    tests = []
    for n, part in enumerate(PARTS, start=1):
        checks = [c for c in g.checks if c.part == part]
        text = [f"{'PASS' if c.passed else 'FAIL'} {c.name}" + (f": {c.fix}" if c.fix else "")
                for c in checks] or ["not reached"]  # fmt: skip
        tests.append({"name": part, "number": str(n), "score": g.part(part),
                      "max_score": g.points[part], "output": "\n".join(text),
                      "visibility": "visible"})  # fmt: skip
    return {"score": g.total, "output": g.reason or f"{g.total:g} / {g.maximum:g}",
            "visibility": "visible", "tests": tests}  # fmt: skip
