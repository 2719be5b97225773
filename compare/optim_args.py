"""torch.optim's keyword arguments, written on the command line: `--optim-args alpha=0.9 …`.

Keys are torch's own names; values are numbers, true/false, or tuples written `(a,b)` (lists
`[a,b]`). The accepted keys of an optimizer are its hyperparameters in manual/optim/, which
carry torch's names and defaults, so one table serves both sides.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any, cast

from manual.optim import FAMILIES, SGD, Adam

# The families RunConfig spells out as flags of their own (--momentum, --betas, …).
CLASSIC = {"sgd": SGD, "adam": Adam, "adamw": Adam}
Pairs = tuple[tuple[str, Any], ...]


def options_class(name: str) -> type:
    """The hyperparameters' class of torch.optim's `name` (lower case)."""
    return CLASSIC[name] if name in CLASSIC else FAMILIES[name][0]


def accepted(name: str) -> list[str]:
    """The keys `--optim-args` takes for `name`: its torch keywords, lr aside (that is --lr)."""
    skip = {"lr", "decoupled"}  # AdamW is its own class in torch, not an Adam keyword
    return [f.name for f in dataclasses.fields(options_class(name)) if f.name not in skip]


def parse_value(text: str) -> Any:  # noqa: ANN401
    """`0.9` → 0.9, `10` → 10, `true` → True, `(0.5,1.2)` → (0.5, 1.2), `[1,2]` → [1, 2]."""
    text = text.strip()
    if text[:1] in "([" and text[-1:] in ")]":
        items = [parse_value(t) for t in text[1:-1].split(",") if t.strip()]
        return tuple(items) if text[0] == "(" else items
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.isidentifier():
        return text  # a word: ReduceLROnPlateau's mode=min, threshold_mode=rel
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number, true/false, (a,b) or [a,b]") from None


def as_pairs(value: object) -> Pairs:
    """Keyword arguments in one form, whoever wrote them (a dict, the parser, a checkpoint's
    JSON lists): (key, value) pairs sorted by key, a list value as a tuple."""
    items: Iterable[Any] = value.items() if isinstance(value, dict) else cast(Iterable[Any], value)
    pairs = ((str(k), tuple(v) if isinstance(v, list) else v) for k, v in items)
    return tuple(sorted(pairs, key=lambda pair: pair[0]))


def parse(tokens: list[str] | tuple[str, ...]) -> Pairs:
    """KEY=VALUE tokens as sorted (key, value) pairs; ValueError names what was wrong."""
    pairs: dict[str, Any] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise ValueError(f"{token!r} is not KEY=VALUE, e.g. alpha=0.9")
        pairs[key.strip()] = parse_value(value)
    return as_pairs(pairs)


def problem(name: str, pairs: Pairs) -> str | None:
    """Why these arguments cannot go to torch.optim's `name`, in one line; None if they can."""
    keys = accepted(name)
    for key, value in pairs:
        if key == "lr":
            return "--optim-args lr=…: give the learning rate as --lr"
        if key not in keys:
            return f"--optim-args {key}: {name} takes {', '.join(keys)}"
        default = getattr(options_class(name), key)
        values = value if isinstance(value, tuple | list) else (value,)
        if isinstance(default, bool) != isinstance(value, bool):
            kind = "true or false" if isinstance(default, bool) else "a number"
            return f"--optim-args {key}={value!r}: {key} is {kind}"
        if isinstance(default, tuple) and len(values) != len(default):
            return f"--optim-args {key}: give {len(default)} numbers, e.g. {key}={default}"
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            return f"--optim-args {key}={value!r}: give finite numbers"
    return None


def family_options(name: str, lr: float, weight_decay: float, maximize: bool, pairs: Pairs) -> Any:  # noqa: ANN401
    """The hyperparameters of a family beyond SGD and Adam: --lr, --weight-decay and --maximize
    where it has them, then --optim-args, all under torch's names."""
    cls = FAMILIES[name][0]
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {"lr": lr, "maximize": maximize}
    if "weight_decay" in names:
        kwargs["weight_decay"] = weight_decay
    return cls(**(kwargs | dict(pairs)))
