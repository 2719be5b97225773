"""What a loop is checked against: the chapter's settings, the exercise's, or an instructor's.

`--expect chapter`: y = 0.7x + 0.3, 100 epochs, L1, SGD at lr 0.01, 50 points split 80/20.
`--expect exercise`: y = 0.3x + 0.9, at least 100 points split 80/20, 300 epochs, L1, SGD at
lr 0.01. `--expect FILE.toml`: the same keys, an instructor's values, e.g.

    name = "week 2"
    weight = 0.3
    bias = 0.9
    min_points = 100
    split = 0.8
    epochs = 300
    loss = "l1"
    optimizer = "sgd"
    lr = 0.01

Each difference is one line: "epochs: 1000, the exercise asks for 300".
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ExpectError(ValueError):
    """The --expect value is not a spec that can be used; one line says why."""


@dataclass(frozen=True)
class Expect:
    """The settings asked for; None where nothing is asked."""

    name: str  # how a difference names the asker: "the exercise", "the chapter", "week 2"
    weight: float | None = None  # the line the data lie on: y = weight·x + bias
    bias: float | None = None
    min_points: int | None = None  # at least this many points, train and test together
    points: int | None = None  # exactly this many
    split: float | None = None  # the training share
    epochs: int | None = None
    loss: str | None = None  # l1 | mse | huber
    optimizer: str | None = None  # torch.optim's class name in lower case
    lr: float | None = None

    def __post_init__(self) -> None:
        for f in ("weight", "bias", "split", "lr"):
            value = getattr(self, f)
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value)):
                raise ExpectError(f"--expect: {f} is {value!r}; give a number")
        for f in ("min_points", "points", "epochs"):
            value = getattr(self, f)
            if value is not None and not (isinstance(value, int) and value >= 1):
                raise ExpectError(f"--expect: {f} is {value!r}; give a whole number ≥ 1")


CHAPTER = Expect("the chapter", 0.7, 0.3, None, 50, 0.8, 100, "l1", "sgd", 0.01)
EXERCISE = Expect("the exercise", 0.3, 0.9, 100, None, 0.8, 300, "l1", "sgd", 0.01)


def load(spec: str) -> Expect:
    """`chapter`, `exercise`, or a TOML file of Expect's keys."""
    if spec == "chapter":
        return CHAPTER
    if spec == "exercise":
        return EXERCISE
    path = Path(spec)
    if path.suffix != ".toml":
        raise ExpectError(f"--expect {spec}: give chapter, exercise or a .toml file")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ExpectError(f"--expect {spec}: cannot read it ({e})") from None
    known = {f.name for f in fields(Expect)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ExpectError(
            f"--expect {spec}: unknown key {unknown[0]!r}; use {', '.join(sorted(known))}"
        )
    table.setdefault("name", path.stem)
    return Expect(**table)


def differences(expect: Expect, loop: dict[str, Any]) -> list[dict[str, Any]]:
    """Each setting of `loop` (a verdict's JSON) that is not what was asked."""
    out: list[dict[str, Any]] = []
    data = loop.get("data", {})
    line = data.get("line")

    def differ(setting: str, want: Any, got: Any, text: str) -> None:
        out.append(
            {
                "setting": setting,
                "expected": want,
                "got": got,
                "message": f"{setting}: {text}, {expect.name} asks for {want}",
            }
        )

    if expect.weight is not None and expect.bias is not None:
        if line is None:
            differ(
                "line", f"y = {expect.weight:g}x + {expect.bias:g}", None, "no line could be fitted"
            )
        elif abs(line["weight"] - expect.weight) > 1e-3 or abs(line["bias"] - expect.bias) > 1e-3:
            got = f"y = {line['weight']:.4g}x + {line['bias']:.4g}"
            differ("line", f"y = {expect.weight:g}x + {expect.bias:g}", got, got)
    total = data.get("points")
    if expect.min_points is not None and (total or data.get("train_points", 0)) < expect.min_points:
        differ(
            "points", f"at least {expect.min_points}", total, f"{total or data.get('train_points')}"
        )
    if expect.points is not None and total is not None and total != expect.points:
        differ("points", expect.points, total, str(total))
    split = data.get("split")
    if expect.split is not None and split is not None and abs(split - expect.split) > 0.011:
        differ(
            "split",
            expect.split,
            round(split, 3),
            f"{data['train_points']} of {total} ({split:.0%})",
        )
    if expect.epochs is not None and loop["epochs"] != expect.epochs:
        differ("epochs", expect.epochs, loop["epochs"], str(loop["epochs"]))
    if expect.loss is not None and loop["loss"] != expect.loss:
        differ("loss", expect.loss, loop["loss"], loop["loss"])
    if expect.optimizer is not None and loop["optimizer"] != expect.optimizer:
        differ("optimizer", expect.optimizer, loop["optimizer"], loop["optimizer"])
    if expect.lr is not None and not math.isclose(loop["lr"], expect.lr, rel_tol=1e-6):
        differ("lr", expect.lr, loop["lr"], f"{loop['lr']:g}")
    return out
