"""Resuming continues what a checkpoint was doing: its recorded settings win over defaults.

Every setting that shapes the trajectory (loss, model, optimizer and its hyper-parameters,
batching, shuffling, seed, data, dtype) must be the checkpoint's. A flag left out takes the
checkpoint's value; a flag given with another value is refused in one line, naming the flag,
the checkpoint's value and what to do. Only the learning rate may change, and only when asked
for with `--override lr`; the change is recorded in the file, with the epoch it took effect.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from compare.config import RunConfig
from compare.optim_args import as_pairs
from manual.checkpoint import CheckpointError

FREE = frozenset({"epochs", "device"})  # how long to run now, and where: never shape the path
OVERRIDABLE = frozenset({"lr"})  # may change on resume, when asked for by name


def recorded_config(path: Path, metadata: dict[str, str]) -> dict[str, Any] | None:
    """The RunConfig a checkpoint was written with, or None (the course's bare state_dict)."""
    if "config" not in metadata:
        return None
    try:
        saved = json.loads(metadata["config"])
    except ValueError:
        raise CheckpointError(f"{path}: metadata config is not JSON") from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: metadata config is not a JSON object")
    if "betas" in saved and isinstance(saved["betas"], list):
        saved["betas"] = tuple(saved["betas"])
    for key in ("optim_args", "scheduler_args"):
        if key in saved:  # JSON's lists, back to RunConfig's pairs
            try:
                saved[key] = as_pairs(saved[key])
            except (TypeError, ValueError):
                raise CheckpointError(f"{path}: metadata config {key} is malformed") from None
    return saved


def resumed_config(
    path: Path,
    metadata: dict[str, str],
    config: RunConfig,
    given: frozenset[str] | None = None,
    overrides: frozenset[str] = frozenset(),
) -> tuple[RunConfig, dict[str, tuple[Any, Any]]]:
    """The run's settings on resuming from `path`, and the overridden ones as (was, now).

    given: the settings named on the command line (None: all of them, as from Python).
    """
    saved = recorded_config(path, metadata)
    if saved is None:
        return config, {}
    values = asdict(config)
    changed: dict[str, tuple[Any, Any]] = {}
    for f in fields(RunConfig):
        name = f.name
        if name in FREE or name not in saved or values[name] == saved[name]:
            continue
        flag = "--" + name.replace("_", "-")
        if given is not None and name not in given:
            values[name] = saved[name]  # left out: continue as the checkpoint did
        elif name in OVERRIDABLE and name in overrides:
            if saved.get("scheduler") is not None:  # its lr is the schedule's, saved with it
                raise CheckpointError(
                    f"{path}: was trained with --scheduler {saved['scheduler']}, which sets the "
                    f"lr itself; --override {name} applies to runs without one"
                )
            changed[name] = (saved[name], values[name])
        else:
            how = f", or pass --override {name} to change it" if name in OVERRIDABLE else ""
            raise CheckpointError(
                f"{path}: was trained with {flag} {_shown(saved[name])}, and this run asks for "
                f"{_shown(values[name])}; leave {flag} out to continue as it was{how}, or "
                "start a new run without --resume"
            )
    return RunConfig(**values), changed


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return "off" if value is None or value is False else "on" if value is True else str(value)
