"""What each task must return, worked out with torch in the grader's own process.

Every task is graded on the course's fixed case and on inputs drawn at grading time from the
run's seed: d from 1 to 5, N that a batch size does not divide, non-zero parameters, both
dtypes. `build` makes the request the sandboxed child runs; `judge` compares the child's
answer with torch autograd and torch.optim, case by case, and names the likely mistake.
Nothing here is ever visible to, or importable by, the student's code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

DTYPES = ("float32", "float64")
TOL = {  # (rtol, atol) per dtype; Adam in float64 is judged looser, see judge_loop
    "float32": (2e-6, 1e-6),
    "float64": (1e-10, 1e-12),
    "float64-adam": (1e-8, 1e-10),
}


@dataclass
class Case:
    """One separately graded case of a task."""

    name: str  # what this case exercises, e.g. "momentum + weight decay"
    passed: bool  # the student's answer matched torch
    maxdiff: float | None = None  # largest |student - torch| seen
    message: str = ""  # what differed (empty on pass)
    hint: str = ""  # the likely mistake


class Fail(Exception):
    """A check did not hold."""

    def __init__(self, message: str, maxdiff: float | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.maxdiff, self.hint = maxdiff, hint


@dataclass
class Plan:
    """A task's request for the child and what the grader keeps back to judge the answer."""

    request: dict[str, Any]  # sent to the child (inputs only)
    expected: dict[str, Any] = field(default_factory=dict)  # kept here
    cleanup: Callable[[], None] = lambda: None
    shared: Path | None = None  # a folder of the grader's the child may write in (saves)


# ------------------------------------------------------------------------------ comparisons


def expect_close(
    got: object,
    ref: object,
    what: str,
    dtype: str = "float64",
    exact: bool = False,
    n: int | None = None,
    keep_dtype: bool = False,
) -> float:
    """Shape, then values, cmp-style: the maxdiff, or a Fail naming what differs and why.

    `keep_dtype`: an array must come back in the dtype it was given (float32 in, float32 out),
    as the tasks document; a float64 answer to float32 inputs is as close as float32 itself.
    """
    if got is None:
        raise Fail(f"{what} is None", hint="you returned None: is a `return` missing?")
    if keep_dtype and dtype in DTYPES and isinstance(got, np.ndarray) and got.dtype != dtype:
        raise Fail(f"{what} is {got.dtype}; its inputs were {dtype}",
                   hint=f"keep the inputs' dtype: the answer is {dtype} too")  # fmt: skip
    try:
        mine = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Fail(f"{what} is a {type(got).__name__}, not an array of numbers") from None
    want = np.asarray(ref, dtype=np.float64)
    if mine.shape != want.shape:
        raise Fail(
            f"{what} has shape {mine.shape}, expected {want.shape}", hint=shape_hint(mine, want)
        )
    diff = float(np.max(np.abs(mine - want))) if want.size else 0.0
    rtol, atol = (0.0, 0.0) if exact else TOL[dtype]
    if not np.all(np.isfinite(mine)) or not np.allclose(mine, want, rtol=rtol, atol=atol):
        raise Fail(f"{what} differs from torch", diff, ratio_hint(mine, want, n))
    return diff


def shape_hint(got: np.ndarray, ref: np.ndarray) -> str:
    if got.size == ref.size:
        return f"right numbers, wrong shape: return shape {ref.shape}"
    if got.size == 1 and ref.size > 1:
        # A hint names a slip only where its fingerprint matches; else it says what differs.
        x = float(got.reshape(-1)[0])
        if np.isclose(x, float(ref.reshape(-1)[0]), rtol=1e-6, atol=0):
            return (f"only its first entry: a row taken for a column? keep all {ref.size}, "
                    "e.g. (Xᵀ·dpred)[:, 0] is (d,), (dpredᵀ·X)[:, 0] is one number")  # fmt: skip
        if np.isclose(x, float(ref.sum()), rtol=1e-6) or np.isclose(
            x, float(ref.mean()), rtol=1e-6
        ):
            return "the array's sum or mean, where the array itself is expected"
        return f"one number where shape {ref.shape} is expected"
    return f"expected {ref.shape}: check which axis you reduce over, and keep (N, 1) columns"


def ratio_hint(got: np.ndarray, ref: np.ndarray, n: int | None = None) -> str:
    """Name the classic slips: a factor of 2, a missing or extra 1/N, a flipped sign."""
    mask = np.abs(ref) > 1e-12
    if not mask.any() or not np.all(np.isfinite(got)):
        return ""
    ratios = got[mask] / ref[mask]
    if not np.allclose(ratios, ratios.flat[0], rtol=1e-6):
        return ""
    k = float(ratios.flat[0])
    n = n or (ref.shape[0] if ref.ndim else 1)  # N, the batch the mean runs over
    slips = [
        (0.5, "off by a factor of 2: is your MSE mean-reduced without the ½? d(r²)/dr = 2r"),
        (2.0, "off by a factor of 2: the mean of r² has derivative 2r/N, not 4r/N"),
        (-1.0, "the sign is flipped: the residual is r = ŷ - y, and you step against the gradient"),
    ]
    if n > 2:
        slips += [
            (float(n), "off by a factor of N: the mean reduction divides by N"),
            (
                1 / n,
                "off by a factor of 1/N: dpred already holds the mean's 1/N; sum, don't average",
            ),
        ]
    return next((hint for value, hint in slips if np.isclose(k, value, rtol=1e-6)), "")


def seeded(rng: np.random.Generator, shape: tuple[int, ...], dtype: str = "float64") -> np.ndarray:
    """Non-zero values of either sign, so a zero cannot hide a wrong gradient."""
    return (rng.uniform(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape)).astype(dtype)


def as_tensor(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a), requires_grad=grad)


TORCH_LOSSES: dict[str, Callable[[], torch.nn.Module]] = {
    "l1": torch.nn.L1Loss,
    "mse": torch.nn.MSELoss,
    "huber": torch.nn.HuberLoss,
}


def answer_cases(answer: Any, n: int, what: str) -> list[Any]:
    """The child's per-case list, checked for length."""
    cases = answer.get("calls", answer.get("cases")) if isinstance(answer, dict) else None
    if not isinstance(cases, list) or len(cases) != n:
        raise Fail(f"{what}: the grader got {len(cases or [])} answers for {n} cases")
    return cases


NOT_WRITTEN = "not implemented yet"  # the message of a task whose stub still raises


def error_line(error: dict[str, Any]) -> tuple[str, str]:
    """What the student's code raised, as a message and a hint."""
    kind, msg, at = error.get("kind", "Error"), error.get("message", ""), error.get("where", "")
    where = f" ({at})" if at else ""
    if kind == "NotImplementedError":
        return NOT_WRITTEN, "replace the raise NotImplementedError with your code"
    if kind in ("SyntaxError", "IndentationError", "TabError"):
        return f"{kind} in {at or 'manual/'}: {msg}", "fix the syntax: nothing in that file can run"
    if kind == "ImportError" and "torch" in msg:
        return f"{msg}{where}", "derive it by hand with NumPy: that is the exercise"
    if kind == "SystemExit":
        return f"your code called sys.exit() (or exit/quit){where}", "return values; never exit"
    if kind == "Refused":
        return msg, ""
    if "NoneType" in msg:
        return f"{kind}: {msg}{where}", "you returned None somewhere: is a `return` missing?"
    if kind in ("KeyError", "AttributeError"):
        return (
            f"{kind}: {msg}{where}",
            "a name or key your code expects is missing (a state field?)",
        )
    return f"{kind}: {msg}{where}", ""


def keeps_hint(case: Case) -> bool:
    """A hint about form (None, a shape, a missing name) beats the case's own advice."""
    form = ("you returned", "right numbers", "a single number", "expected (", "a name or key")
    return case.hint.startswith(form) or case.message.startswith(("not implemented", "your code"))


def judged(name: str, check: Callable[[], float], got: object = None) -> Case:
    """Run one case's comparison; a Fail becomes a failed Case with its hint."""
    if isinstance(got, dict) and "__error__" in got:
        message, hint = error_line(got["__error__"])
        return Case(name, False, None, message, hint)
    try:
        return Case(name, True, check())
    except Fail as f:
        return Case(name, False, f.maxdiff, str(f), f.hint)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        return Case(name, False, None, f"the answer has an unexpected form ({e})", "")


def drawn_shapes(rng: np.random.Generator) -> list[tuple[int, int, str]]:
    """(N, d, dtype) draws: d from 1 to 5, both dtypes."""
    return [
        (int(rng.integers(3, 30)), int(rng.integers(1, 6)), dt) for dt in DTYPES for _ in (0, 1)
    ]


def overwritten(sent: list[Any], answer: Any, names: tuple[str, ...]) -> list[str | None]:
    """Per call, the first argument the student's function changed in place, or None.

    The child sends back the arguments as its calls left them; the grader compares them
    with what it sent, which it kept.
    """
    after = answer.get("inputs") if isinstance(answer, dict) else None
    out: list[str | None] = []
    for i, call in enumerate(sent):
        got = after[i] if isinstance(after, list) and i < len(after) else None
        changed = None
        for j, arg in enumerate(call):
            if isinstance(arg, np.ndarray):
                now = got[j] if isinstance(got, list | tuple) and j < len(got) else None
                kept = (
                    isinstance(now, np.ndarray)
                    and now.shape == arg.shape
                    and np.array_equal(now, arg, equal_nan=True)
                )
                if not kept:
                    changed = names[j] if j < len(names) else f"argument {j + 1}"
                    break
        out.append(changed)
    return out


def fail_overwrites(
    cases: list[Case], sent: list[Any], answer: Any, names: tuple[str, ...]
) -> None:
    """A case whose call overwrote its caller's array fails, whatever it returned."""
    for case, name in zip(cases, overwritten(sent, answer, names), strict=False):
        if name is not None:
            case.passed = False
            case.message = f"overwrote its argument {name}"
            case.hint = (f"leave the caller's {name} as it was: compute a new array "
                         "(no -=, += or out= on an argument)")  # fmt: skip


def cases_each(
    names: list[str], got: list[Any], refs: list[Any], dts: list[str], what: str
) -> list[Case]:
    return [
        judged(n, partial(expect_close, g, r, what, dt, keep_dtype=True), g)
        for n, g, r, dt in zip(names, got, refs, dts, strict=True)
    ]
