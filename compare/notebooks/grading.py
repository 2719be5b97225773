"""Points for the chapter's exercise notebook, each part judged from what the notebook did.

The exercise: y = 0.3x + 0.9 with at least 100 points split 80/20; a linear model; 300
epochs of L1 and SGD at lr 0.01, testing every 20 epochs; predictions on the test split;
the state_dict saved, loaded into a new instance, and the predictions compared. Each part is
proven from the diagnosis's recording (run.py), never from the code's text:

- data: the X and y the model trained on lie on the line asked for; 80/20 of enough points;
- model: a linear nn.Module, seeded before it was built, whose parameters the optimizer holds;
- training: every step is the hand-derived step; loss, optimizer, lr and epochs as asked; the
  test loss under inference_mode or no_grad, at least every 20 epochs;
- predictions: the trained model on the test split, under inference_mode or no_grad;
- save_load: a state_dict file the parent reads back (weights_only=True) equal to the trained
  tensors, loaded into a second instance that then equals them, weights_only never turned off.

A part's points (a TOML [parts] table, the defaults summing to 100) are shared equally by its
checks: partial credit.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compare.notebooks.expect import Expect
from compare.notebooks.hooks import MAX_STEPS
from compare.notebooks.mistakes import MISTAKES
from compare.notebooks.report import NotebookReport

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PARTS = ("data", "model", "training", "predictions", "save_load")
DEFAULT_POINTS = {"data": 20.0, "model": 10.0, "training": 40.0, "predictions": 10.0,
                  "save_load": 20.0}  # fmt: skip
MODEL_IDS = {"not_linear", "wrong_parameters", "no_seed", "seed_after_model"}
TEST_IDS = {"test_with_grad", "test_on_train"}


class PointsError(ValueError):
    """The --points file cannot be used; one line says why."""


def load_points(path: Path | None) -> dict[str, float]:
    """The points of each part: the defaults, or a TOML file's [parts] table."""
    if path is None:
        return dict(DEFAULT_POINTS)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("parts")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise PointsError(f"--points {path}: cannot read it ({e})") from None
    if not isinstance(table, dict):
        raise PointsError(f"--points {path}: no [parts] table ({', '.join(PARTS)})")
    points = dict(DEFAULT_POINTS)
    for key, value in table.items():
        if key not in PARTS:
            raise PointsError(f"--points {path}: unknown part {key!r}; use {', '.join(PARTS)}")
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0:
            raise PointsError(f"--points {path}: {key} = {value!r}; give a number ≥ 0")
        points[key] = float(value)
    return points


@dataclass
class Check:
    part: str
    name: str  # what was checked, in a few words
    passed: bool
    fix: str = ""  # one line, when it failed


@dataclass
class NotebookGrade:
    """One student's parts, their points, and why a notebook stopped (if it did)."""

    student: str
    points: dict[str, float]
    checks: list[Check] = field(default_factory=list)
    reason: str = ""

    def part(self, name: str) -> float:
        mine = [c for c in self.checks if c.part == name]
        if not mine:
            return 0.0
        return round(self.points[name] * sum(c.passed for c in mine) / len(mine), 2)

    @property
    def total(self) -> float:
        return round(sum(self.part(p) for p in PARTS), 2)

    @property
    def maximum(self) -> float:
        return sum(self.points.values())

    def row(self) -> dict[str, Any]:
        return {"student": self.student, "total": _num(self.total), "max": _num(self.maximum),
                **{p: _num(self.part(p)) for p in PARTS}, "reason": self.reason}  # fmt: skip

    def lines(self) -> list[str]:
        out = [f"Feedback for {self.student}: {_num(self.total)} / {_num(self.maximum)}"]
        if self.reason:
            out.append(f"the notebook stopped: {self.reason}")
        for p in PARTS:
            out.append(f"{p}: {_num(self.part(p))} / {_num(self.points[p])}")
            mine = [c for c in self.checks if c.part == p] or [Check(p, "not reached", False)]
            for c in mine:
                out.append(
                    f"  {'PASS' if c.passed else 'FAIL'} {c.name}" + (f": {c.fix}" if c.fix else "")
                )
        return out


def _num(x: float) -> str:
    return f"{x:g}"


def grade(
    student: str, report: NotebookReport, expect: Expect, points: dict[str, float]
) -> NotebookGrade:
    """The parts of one notebook's report."""
    g = NotebookGrade(student, points)
    if report.error is not None:
        e = report.error
        where = f"cell {e['cell']}" + (f" line {e['line']}" if e.get("line") else "")
        g.reason = " ".join(f"{where}: {e['type']}: {e['message']} ({e['hint']})".split())[:300]
    if not report.loops:
        g.reason = g.reason or "no training loop ran (no optimizer.step())"
        return g
    loop = max(report.loops, key=lambda lp: lp["steps"])  # the exercise's loop
    ids = {d["id"] for d in loop["diagnosis"]}
    fixes = {d["id"]: d["message"] for d in loop["diagnosis"]}
    diffs = {d["setting"]: d["message"] for d in (report.expect or {}).get("differences", [])
             if d.get("loop") == report.loops.index(loop) + 1}  # fmt: skip

    def add(part: str, name: str, passed: bool, fix: str = "") -> None:
        g.checks.append(Check(part, name, passed, "" if passed else fix))

    for setting, what in (("line", "the data lie on the line asked for"),
                          ("points", "enough points"), ("split", "an 80/20 split")):  # fmt: skip
        add(
            "data",
            what,
            setting not in diffs and "train_points" in loop["data"],
            diffs.get(setting, "no data reached the model"),
        )
    add("model", "a linear nn.Module", "not_linear" not in ids, MISTAKES["not_linear"].fix)
    add(
        "model",
        "the optimizer holds its parameters",
        "wrong_parameters" not in ids,
        fixes.get("wrong_parameters", ""),
    )
    seed = next((i for i in ("no_seed", "seed_after_model") if i in ids), None)
    add("model", "seeded before it was built", seed is None, fixes.get(seed or "", ""))
    mechanics = ids - MODEL_IDS - TEST_IDS
    first = next(iter(sorted(mechanics)), None)
    steps_ok = not mechanics and loop["checked_steps"] == min(loop["steps"], MAX_STEPS)
    add(
        "training",
        "every step is the hand-derived step",
        steps_ok and loop["checked_steps"] > 0,
        fixes.get(first or "", "the steps could not be checked"),
    )
    settings = [diffs[s] for s in ("epochs", "loss", "optimizer", "lr") if s in diffs]
    add("training", "loss, optimizer, lr and epochs as asked", not settings, "; ".join(settings))
    ev = loop.get("evidence", {})
    passes = ev.get("test_passes", 0)
    add(
        "training",
        "the test loss under inference_mode or no_grad",
        passes > 0 and not ids & TEST_IDS,
        next(
            (fixes[i] for i in sorted(ids & TEST_IDS)), "no test loss was computed during training"
        ),
    )
    every = max(1, (expect.epochs or loop["epochs"]) // 20)
    add(
        "training",
        "tested at least every 20 epochs",
        passes >= every,
        f"{passes} test passes in {loop['epochs']} epochs; test every 20 epochs",
    )
    preds = [p for p in ev.get("predictions", []) if p["on_test"]]
    add(
        "predictions",
        "the trained model on the test split",
        bool(preds),
        "predict on X_test with the trained model, after training",
    )
    add(
        "predictions",
        "under inference_mode or no_grad",
        bool(preds) and all(p["no_grad"] for p in preds),
        "wrap the predictions in torch.inference_mode()",
    )
    saved = ev.get("saved", [])
    add(
        "save_load",
        "a state_dict file equal to the trained model",
        any(s["matches"] for s in saved),
        "torch.save(model.state_dict(), PATH) after training"
        if not saved
        else "the saved file does not hold the trained model's state_dict",
    )
    loaded = ev.get("loaded", [])
    add(
        "save_load",
        "loaded into a new instance that equals it",
        any(d["matches"] and d["other_instance"] for d in loaded),
        "build a new instance and call load_state_dict(torch.load(PATH)) on it",
    )
    add(
        "save_load",
        "torch.load keeps weights_only on",
        bool(loaded) and not ev.get("weights_only_off"),
        "never pass weights_only=False: a .pth can run code when unpickled"
        if ev.get("weights_only_off")
        else "load the file with torch.load(PATH)",
    )
    return g
