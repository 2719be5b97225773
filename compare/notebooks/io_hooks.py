"""The recording's file and data side: torch.save, torch.load, load_state_dict, DataLoader.

A mixin of hooks.Recorder, so a notebook's save and load are evidence the parent can check:
which dict of tensors went to which path (the parent then reads that file itself), whether
torch.load was told weights_only=False, and which module a state_dict was loaded into, with
its tensors after. DataLoader passes count a mini-batch loop's epochs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch


def where() -> tuple[int | None, int | None]:
    """(cell, line) of the innermost frame in a notebook cell (`<cell N>`), or (None, None)."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<cell "):
            return int(name[6:-1]), frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None, None


def flat(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().reshape(-1).numpy().copy()


class IORecording:
    """The save / load / loader hooks; the lists live on the recorder."""

    saves: list[dict[str, Any]]
    loads: list[dict[str, Any]]
    loaded: list[dict[str, Any]]
    module_refs: dict[int, torch.nn.Module]
    passes: int
    loader_size: int

    def tick(self) -> int:
        raise NotImplementedError

    def wrap_save(self, real: Any) -> Any:
        def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> Any:
            out = real(obj, f, *args, **kwargs)
            if isinstance(obj, dict) and isinstance(f, str | os.PathLike):
                cell, line = where()
                tensors = {str(k): flat(v) for k, v in obj.items() if isinstance(v, torch.Tensor)}
                self.saves.append(
                    {
                        "clock": self.tick(),
                        "cell": cell,
                        "line": line,
                        "path": str(Path(f).resolve()),
                        "tensors": tensors,
                        "state_dict": len(tensors) == len(obj) and bool(obj),
                    }
                )
            return out

        return save

    def wrap_load(self, real: Any) -> Any:
        def load(f: Any, *args: Any, **kwargs: Any) -> Any:
            cell, line = where()
            path = str(Path(f).resolve()) if isinstance(f, str | os.PathLike) else None
            self.loads.append(
                {
                    "clock": self.tick(),
                    "cell": cell,
                    "line": line,
                    "path": path,
                    "weights_only": kwargs.get("weights_only"),
                }
            )
            return real(f, *args, **kwargs)

        return load

    def wrap_load_state(self, real: Any) -> Any:
        def load_state_dict(module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
            out = real(module, *args, **kwargs)
            cell, line = where()
            self.module_refs.setdefault(id(module), module)
            self.loaded.append(
                {
                    "clock": self.tick(),
                    "cell": cell,
                    "line": line,
                    "module": id(module),
                    "class": type(module).__name__,
                    "params": [flat(p) for p in module.parameters()],
                }
            )
            return out

        return load_state_dict

    def wrap_loader(self, real: Any) -> Any:
        def __iter__(loader: Any) -> Any:
            self.passes += 1
            try:
                self.loader_size = len(loader.dataset)
            except TypeError:  # an iterable dataset has no length
                self.loader_size = 0
            return real(loader)

        return __iter__
