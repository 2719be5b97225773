"""How the child reports what the student's code did: arrays as arrays, an exception as data.

One case that raises becomes {"__error__": {kind, message, where}} and the other cases still
count; `where` names the student's file and line, never the grader's.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compare.exercises.stand_ins import Refused


def error_of(e: BaseException, folder: str) -> dict[str, Any]:
    """An exception from the student's code as data: kind, message, where."""
    kind = "Refused" if isinstance(e, Refused) else type(e).__name__
    msg = e.msg if isinstance(e, SyntaxError) else str(e)
    return {"kind": kind, "message": str(msg)[:300], "where": where(e, folder)}


def each(folder: str, items: Sequence[Any], fn: Callable[[Any], Any]) -> list[Any]:
    """fn over the cases; a case that raises becomes {"__error__": …}, the others still count."""
    out = []
    for item in items:
        try:
            out.append(fn(item))
        except (NotImplementedError, SystemExit, ImportError, SyntaxError):
            raise  # the whole task: not written, exited, or not allowed
        except Exception as e:
            out.append({"__error__": error_of(e, folder)})
    return out


def arr(x: object) -> object:
    """The student's return value as an array if it is one, else as it is (None, tuples, …)."""
    if isinstance(x, np.ndarray | np.generic | float | int) and not isinstance(x, bool):
        return np.asarray(x)
    return x


def where(e: BaseException, folder: str) -> str:
    """The deepest frame of the student's code: `manual/losses.py line 12`.

    Named from the copy's root, so `model.py` says whether it is manual/ or torch_impl/.
    """
    root = Path(folder).resolve()

    def inside(filename: str) -> str | None:
        path = Path(filename).resolve()
        return path.relative_to(root).as_posix() if root in path.parents else None

    if isinstance(e, SyntaxError) and e.filename:
        return f"{inside(e.filename) or Path(e.filename).name} line {e.lineno}"
    found = ""
    for frame in traceback.extract_tb(e.__traceback__):
        name = inside(frame.filename)
        if name is not None and name.startswith(("manual/", "torch_impl/")):
            found = f"{name} line {frame.lineno}"
    return found
