"""`gradcompare diagnose NOTEBOOK.ipynb | SCRIPT.py`: a learner's own code, as written.

The cells run in a sandboxed child (child.py) under torch's global hooks (hooks.py); each
optimizer that stepped is judged by hand (verdict.py), its settings against what was asked
(expect.py), its device code by reading it (reading.py). The parent judges; the child only
records. A notebook that stops says where, and why, in one line, with the usual fix.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from compare.notebooks.cells import Cell, CellsError, read_cells
from compare.notebooks.evidence import gather
from compare.notebooks.expect import Expect, differences
from compare.notebooks.hooks import MAX_STEPS
from compare.notebooks.reading import device_notes, first_assigned, import_unused, mixed_note
from compare.notebooks.report import NotebookReport
from compare.notebooks.verdict import judge
from compare.sandbox import ChildResult, Limits, run_child

PIP_NAMES = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "torchmetrics": "torchmetrics",
    "mlxtend": "mlxtend",
}


def diagnose_notebook(
    path: Path, expect: Expect | None = None, limits: Limits | None = None
) -> NotebookReport:
    """Run the notebook or script at `path` in the sandbox and diagnose every loop in it."""
    if not path.is_file():
        raise CellsError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    if path.suffix not in (".ipynb", ".py"):
        raise CellsError(f"{path}: give a notebook (.ipynb) or a Python script (.py)")
    cells = read_cells(path)
    scratch = Path(tempfile.mkdtemp(prefix="gradcompare-notebook-"))
    try:
        request = {"file": str(path.resolve()), "scratch": str(scratch)}
        child = run_child(
            path.resolve().parent,
            request,
            limits or Limits(),
            entry="compare.notebooks.child",
            shared=scratch,
        )
        return analyse(path, cells, child, expect, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def analyse(
    path: Path, cells: list[Cell], child: ChildResult, expect: Expect | None, scratch: Path
) -> NotebookReport:
    """The report from what the child recorded (and the files it left in scratch)."""
    report = NotebookReport(str(path), ran=False, cells=len(cells))
    report.warnings += [
        {"id": "not_run", "cell": c.number, "line": line, "message": text}
        for c in cells
        for line, text in c.warnings
    ]
    if child.answer is None:
        failure = child.failure.replace(" in manual/?", " in the notebook?")
        report.error = {
            "cell": None,
            "line": None,
            "type": "Stopped",
            "message": failure,
            "hint": "the notebook did not finish in the sandbox; "
            + (
                child.stderr_tail.splitlines()[-1][:200]
                if child.stderr_tail
                else "it printed nothing"
            ),
        }
        return report
    answer = child.answer
    rec = answer["record"]
    report.error = answer["error"]
    report.ran = report.error is None
    if report.error is not None:
        report.error["hint"] = hint(report.error, cells)
    loops = [judge(loop, rec) for loop in rec["loops"]]
    for loop, verdict in zip(rec["loops"], loops, strict=True):
        gather(verdict, loop, rec, scratch)
    notes, on_device = device_notes(cells, rec.get("kinds", {}))
    for loop, verdict in zip(rec["loops"], loops, strict=True):
        cell, line = verdict.forward_at
        mixed = mixed_note(
            verdict.model_name, verdict.input_name, on_device, cell or loop["cell"] or 0, line
        )
        if mixed is not None:
            notes.append(mixed)
        if loop["total_steps"] > MAX_STEPS:
            report.warnings.append(
                {
                    "id": "steps_not_checked",
                    "cell": loop["cell"],
                    "line": None,
                    "message": f"the first {MAX_STEPS} of {loop['total_steps']} "
                    "steps were checked one by one; the rest were counted",
                }
            )
    report.warnings += [asdict(n) for n in notes]
    report.loops = [asdict(v) for v in loops]
    if expect is not None:
        report.expect = {
            "spec": expect.name,
            "differences": [
                {**d, "loop": n}
                for n, v in enumerate(report.loops, start=1)
                for d in differences(expect, v)
            ],
        }
    return report


def hint(error: dict[str, Any], cells: list[Cell]) -> str:
    """The usual fix for the common ways a notebook stops."""
    kind, message = error["type"], error["message"]
    code = "\n".join(c.code for c in cells)
    if kind == "ModuleNotFoundError" and error.get("name"):
        name = str(error["name"]).split(".")[0]
        if import_unused(cells, name):
            return f"{name} is imported but never used: delete the import"
        return f"pip install {PIP_NAMES.get(name, name)} (or delete the cells that need it)"
    if kind == "NameError":
        name = message.split("'")[1] if message.count("'") >= 2 else ""
        later = first_assigned(cells, name) if name else None
        if later is not None and error["cell"] is not None and later > error["cell"]:
            return (
                f"{name} is first defined in cell {later}, below cell {error['cell']}: the "
                "cells were saved out of order; move that cell up and run top to bottom"
            )
        return (
            f"{name} is never defined before cell {error['cell']}: define it, or fix the spelling"
        )
    cuda = ("compiled with CUDA", "NVIDIA driver", "CUDA", "mps", "MPS")
    if any(c in message for c in cuda) and kind in ("AssertionError", "RuntimeError"):
        if "is_available" in code and "is_available()" not in code.replace(" ", ""):
            return "torch.cuda.is_available without () is always true: call it"
        return (
            'this machine has no such device: choose it with device = "cuda" if '
            'torch.cuda.is_available() else "cpu"'
        )
    if kind in ("NoKeyboard", "EOFError"):
        return "the notebook asks for input(): write the value into the code"
    where = f"cell {error['cell']}" + (f", line {error['line']}" if error.get("line") else "")
    return f"fix the {kind} in {where}; the cells before it ran"
