"""How the child reports what the student's code did: arrays as arrays, an exception as data.

One case that raises becomes {"__error__": {kind, message, where}} and the other cases still
count; `where` names the student's file and line, never the grader's.
"""

from __future__ import annotations

import importlib
import json
import os
import traceback
import types
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


def student(folder: str, module: str, package: str = "manual") -> types.ModuleType:
    """<package>.<module> from the student's folder, never ours."""
    mod = importlib.import_module(f"{package}.{module}")
    where = Path(str(mod.__file__)).resolve()
    if Path(folder).resolve() not in where.parents:
        raise Refused(
            f"{package}.{module} was imported from {where}, not from the student's folder"
        )
    return mod


def apart(fn: Callable[[], object], folder: str) -> object:
    """fn() in a forked process of its own, so that an endless loop or an exit in it (its CPU
    limit ends it) costs this one result and not the whole task; its value, or an error."""
    from compare.sandbox import decode, encode

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            try:
                out: object = {"ok": fn()}
            except BaseException as e:
                out = {"__error__": error_of(e, folder)}
            data = json.dumps(encode(out)).encode()
            while data:
                data = data[os.write(write_end, data) :]
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    try:
        got = decode(json.loads(data))
    except ValueError:
        message = "it ended its process first: an endless loop (its CPU limit), an exit, a crash?"
        return {"__error__": {"kind": "Stopped", "message": message, "where": ""}}
    return got["ok"] if isinstance(got, dict) and "ok" in got else got
