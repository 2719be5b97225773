"""`run --save-dir`: the three checkpoints are written all together, or not at all."""

from __future__ import annotations

import os
from pathlib import Path

from compare.checkpoints.convert import save_manual, save_torch
from compare.config import RunConfig
from compare.experiment import Comparison

SAVE_DIR_FILES = ("manual.safetensors", "torch.safetensors", "torch.pth")


def save_all(paths: list[Path], c: Comparison, config: RunConfig) -> None:
    """All three checkpoints or none: each is staged beside its target, then all are renamed."""
    staged = [p.with_name(f".{p.stem}.gradcompare-stage{p.suffix}") for p in paths]
    try:
        save_manual(staged[0], c.manual_run, config, None)
        save_torch(staged[1], c.torch_run, config, None)
        save_torch(staged[2], c.torch_run, config, None)
        for stage, path in zip(staged, paths, strict=True):
            os.replace(stage, path)
    except BaseException as e:
        for stage in staged:
            stage.unlink(missing_ok=True)
        if isinstance(e, OSError):
            e.filename = str(paths[0].parent)  # the user's folder, not a staged name
        raise
