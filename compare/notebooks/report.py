"""A notebook's diagnosis as the learner reads it, as JSON, and as one CSV row.

Exit codes: 0 every loop correct, 1 a mistake (or a setting other than what was asked),
2 the notebook cannot run to its end, or trained nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

CSV_FIELDS = (
    "file",
    "ran",
    "exit",
    "loops",
    "correct",
    "mistakes",
    "differences",
    "warnings",
    "error",
)


@dataclass
class NotebookReport:
    """The issue's JSON shape: file, ran, error, loops, expect, warnings."""

    file: str
    ran: bool
    cells: int = 0
    error: dict[str, Any] | None = None
    loops: list[dict[str, Any]] = field(default_factory=list)
    expect: dict[str, Any] | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def exit_code(self) -> int:
        if self.error is not None or not self.loops:
            return 2
        wrong = any(not loop["correct"] for loop in self.loops)
        return 1 if wrong or (self.expect and self.expect["differences"]) else 0

    def as_json(self) -> dict[str, Any]:
        loops = [
            {
                k: v
                for k, v in loop.items()
                if k
                not in (
                    "model_name",
                    "input_name",
                    "trajectory",
                    "loss_values",
                    "forward_at",
                    "owner",
                    "final_named",
                )
            }
            for loop in self.loops
        ]
        return {
            "file": self.file,
            "ran": self.ran,
            "cells": self.cells,
            "error": self.error,
            "loops": _finite(loops),
            "expect": self.expect,
            "warnings": self.warnings,
            "exit": self.exit_code(),
        }

    def lines(self) -> list[str]:
        out = [f"{self.file}: {self.cells} code cells" + ("" if self.ran else ", stopped")]
        for n, loop in enumerate(self.loops, start=1):
            verdict = "correct" if loop["correct"] else "MISTAKE"
            name = loop.get("model_name") or loop["model"]
            out.append(
                f"loop {n} (cell {loop['cell']}): {name} · {loop['loss']} ({loop['reduction']}) · "
                f"{loop['optimizer']} lr={loop['lr']:g} · {loop['epochs']} epochs · "
                f"{loop['steps']} steps · seed {loop['seed']}"
            )
            line = loop.get("data", {}).get("line")
            true = f"   true {line['weight']:.4f} {line['bias']:.4f}" if line else ""
            out.append(f"  start {_wb(loop['start'])}   final {_wb(loop['final'])}{true}")
            out.append(f"  {verdict}" + ("" if loop["correct"] else ":"))
            for d in loop["diagnosis"]:
                out.append(f"    {d['id']}: {d['message']}")
            fd = loop.get("first_departure")
            if fd:
                out.append(
                    f"    first departure at epoch {fd['epoch']} ({fd['what']} of "
                    f"{fd['parameter']}): learner {_num(fd['learner'])}, hand-derived "
                    f"{_num(fd['reference'])}"
                )
        if not self.loops and self.error is None:
            out.append("no optimizer.step() ran: there is no training loop to diagnose")
        if self.expect is not None:
            for d in self.expect["differences"]:
                out.append(f"  differs: {d['message']}")
            if not self.expect["differences"]:
                out.append(f"  every setting is what {self.expect['spec']} asks for")
        for w in self.warnings:
            where = f"cell {w['cell']}" + (f" line {w['line']}" if w.get("line") else "")
            out.append(f"  warning {w['id']} ({where}): {w['message']}")
        if self.error is not None:
            e = self.error
            where = f"cell {e['cell']}" + (f", line {e['line']}" if e.get("line") else "")
            out.append(f"cannot run: {where}: {e['type']}: {e['message']} → {e['hint']}")
        return out

    def csv_row(self) -> dict[str, Any]:
        mistakes = sorted({d["id"] for loop in self.loops for d in loop["diagnosis"]})
        diffs = [d["message"] for d in (self.expect or {}).get("differences", [])]
        error = (
            self.error
            and f"cell {self.error['cell']}: {self.error['type']}: {self.error['message']}"
        )
        return {
            "file": self.file,
            "ran": self.ran,
            "exit": self.exit_code(),
            "loops": len(self.loops),
            "correct": sum(bool(loop["correct"]) for loop in self.loops),
            "mistakes": " ".join(mistakes),
            "differences": "; ".join(diffs),
            "warnings": " ".join(sorted({w["id"] for w in self.warnings})),
            "error": " ".join(str(error or "").split()),
        }


def _num(x: float | None) -> str:
    return "none" if x is None else f"{x:.6g}"


def _wb(p: dict[str, Any]) -> str:
    if not p:
        return "?"
    w = ", ".join(f"{x:.4f}" for x in p.get("weight", []))
    b = p.get("bias")
    return f"w [{w}] b {b:.4f}" if b is not None else f"w [{w}]"


def _finite(value: Any) -> Any:
    """NaN and inf as null, so the JSON is JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
