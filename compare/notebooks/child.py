"""The child's side of a notebook diagnosis: run the code cells in order, in one namespace.

Runs in the sandbox (compare/sandbox.py), torch allowed, as Jupyter would run the cells:
one namespace named `__main__`, `display` and a quiet `get_ipython()`, figures on matplotlib's
Agg backend (closed after each cell), and the working folder a scratch copy of the notebook's
own folder, so a saved model never lands beside the notebook. `input()` raises at once, with
a message saying why. tqdm, when it is not installed, is a stand-in that draws nothing: a
progress bar changes no number. The first error stops the run, as "Run all" does; what ran
before it is still recorded (hooks.py).
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
import traceback
import types
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from compare.notebooks.cells import read_cells
from compare.notebooks.hooks import Recorder
from compare.sandbox import decode, encode

COPY_BYTES = 16 << 20  # the notebook's folder is copied into scratch up to this much


class NoKeyboard(EOFError):
    """input() in a notebook run without anyone at the keyboard."""


def no_input(prompt: object = "") -> str:
    raise NoKeyboard("input() has no keyboard here: give the value in the code instead")


class Bar:
    """tqdm's stand-in: iterates what it wraps, and accepts tqdm's calls."""

    def __init__(self, iterable: Iterable[Any] | None = None, *args: Any, **kwargs: Any) -> None:
        self.iterable = iterable if iterable is not None else range(int(kwargs.get("total") or 0))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.iterable)

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None  # update, set_description, set_postfix, close, write


class StandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves `tqdm`, `tqdm.auto`, `tqdm.notebook` and `tqdm.std` where tqdm is missing."""

    NAMES = ("tqdm", "tqdm.auto", "tqdm.notebook", "tqdm.std")

    def find_spec(self, name: str, path: object = None, target: object = None) -> Any:
        if name in self.NAMES:
            return importlib.machinery.ModuleSpec(name, self, is_package=name == "tqdm")
        return None

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.tqdm = Bar  # type: ignore[attr-defined]
        module.trange = lambda *args, **kwargs: Bar(range(*args))  # type: ignore[attr-defined]


def tqdm_stand_in() -> None:
    """Make `import tqdm` (and tqdm.auto, tqdm.notebook) work where tqdm is not installed."""
    if importlib.util.find_spec("tqdm") is None:
        sys.meta_path.append(StandIn())


class Shell:
    """get_ipython()'s stand-in: magics called from code do nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def display(*objects: object, **kwargs: object) -> None:
    for obj in objects:
        print(repr(obj), file=sys.stderr)


def copy_folder(source: Path, scratch: Path) -> None:
    """The notebook's folder's files, into scratch (links skipped, up to COPY_BYTES)."""
    budget = COPY_BYTES
    for root, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        for name in files:
            src = Path(root) / name
            if src.is_symlink() or not src.is_file():
                continue
            size = src.stat().st_size
            if size > budget:
                continue
            budget -= size
            dest = scratch / src.relative_to(source)
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
            except OSError:  # a full scratch, an unreadable file: the notebook runs without it
                return


def error_of(e: BaseException, cell: int) -> dict[str, Any]:
    """The error as data: the cell, its line in that cell, the type and one line of message."""
    line = None
    if isinstance(e, SyntaxError) and str(e.filename or "").startswith("<cell "):
        line = e.lineno
    else:
        for frame in traceback.extract_tb(e.__traceback__):
            if frame.filename == f"<cell {cell}>":
                line = frame.lineno
    text = str(e.msg if isinstance(e, SyntaxError) else e).strip()
    message = text.splitlines()[0][:300] if text else ""
    if isinstance(e, ModuleNotFoundError):
        message = f"No module named {e.name!r}" if e.name else message
    return {
        "cell": cell,
        "line": line,
        "type": type(e).__name__,
        "message": message,
        "name": getattr(e, "name", None),
    }


def run(req: dict[str, Any]) -> dict[str, Any]:
    """Run the notebook's cells under the recorder; the answer is the recording."""
    path = Path(req["file"])
    cells = read_cells(path)
    scratch = Path(req["scratch"])
    copy_folder(path.parent, scratch)
    os.chdir(scratch)
    sys.path.insert(0, str(scratch))
    builtins.input = no_input
    tqdm_stand_in()
    namespace: dict[str, Any] = {
        "__name__": "__main__",
        "__builtins__": builtins,
        "display": display,
        "get_ipython": Shell,
    }
    recorder = Recorder(namespace)
    recorder.install()
    error, ran = None, 0
    for cell in cells:
        try:
            exec(compile(cell.code, f"<cell {cell.number}>", "exec"), namespace)
        except BaseException as e:  # the learner's error, whatever it is, is the answer
            error = error_of(e, cell.number)
        finally:
            pyplot = sys.modules.get("matplotlib.pyplot")
            if pyplot is not None:
                pyplot.close("all")
        if error is not None:
            break
        ran += 1
    return {"cells": len(cells), "ran": ran, "error": error, "record": recorder.answer()}


def main(request_path: str, answer_path: str) -> None:
    """Read the request, run the notebook, write the answer."""
    req = decode(json.loads(Path(request_path).read_text()))
    sys.stdout = sys.stderr  # the notebook's prints go to stderr, never into the answer
    answer = run(req)
    sys.stdout = sys.__stdout__
    Path(answer_path).write_text(json.dumps(encode(answer)))
