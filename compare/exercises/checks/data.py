"""Task 1: the course data, built and split, judged against the chapter's own recipe."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from compare.exercises.checks.common import (
    Case,
    Fail,
    Plan,
    answer_cases,
    as_tensor,
    expect_close,
    judged,
    shape_hint,
)

# ------------------------------------------------------------------------------ task 1: data


def build_data(rng: np.random.Generator) -> Plan:
    k = int(rng.integers(2, 6))
    line = {
        "weight": round(float(rng.uniform(-2, 2)), 3),
        "bias": round(float(rng.uniform(-1, 1)), 3),
        "start": round(float(rng.uniform(-1, 0)), 2),
        "end": round(float(rng.uniform(1, 2)), 2),
        "step": 0.05,
        "train_split": float(rng.choice([0.6, 0.7, 0.75])),
        "dtype": "float64",
    }
    seed = int(rng.integers(0, 2**31))
    wide = {
        "weight": line["weight"],
        "bias": line["bias"],
        "features": k,
        "seed": seed,
        "dtype": "float64",
        # The extra features are drawn over [start, end) too: a range far from [0, 1), so a
        # draw that ignores it is told apart on every seed.
        "start": round(float(rng.uniform(-3, -1)), 2),
        "end": round(float(rng.uniform(2, 4)), 2),
        "step": 0.03,  # at least 100 rows (the range is at least 3)
    }
    # 500 points on [0, 1): the spread is known to ±0.01
    noisy = {**wide, "noise": 0.3, "step": 0.002, "start": 0.0, "end": 1.0}
    # 0.75 of 50 points is 37.5: int() keeps 37 for training, round() would give 38.
    halfway = {"train_split": 0.75, "dtype": "float64"}
    calls = [{}, line, wide, noisy, {**wide, "seed": seed + 1}, dict(wide), dict(noisy),
             {**noisy, "seed": seed + 1}, halfway]  # fmt: skip
    return Plan({"calls": calls}, {"calls": calls})


def _split_ref(c: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, int]:
    dtype = getattr(torch, c.get("dtype", "float32"))
    X = torch.arange(c.get("start", 0.0), c.get("end", 1.0), c.get("step", 0.02), dtype=dtype)
    X = X.unsqueeze(dim=1)
    y = c.get("weight", 0.7) * X + c.get("bias", 0.3)
    return X.numpy(), y.numpy(), int(c.get("train_split", 0.8) * len(X))


def judge_data(answer: dict[str, Any], plan: Plan) -> list[Case]:
    calls = plan.expected["calls"]
    got = answer_cases(answer, len(calls), "make_line")

    def course() -> float:
        s = got[0]
        X, y, _n = _split_ref({})
        sizes = tuple(len(np.atleast_1d(s[k])) for k in ("X_train", "y_train", "X_test", "y_test"))
        if sizes != (40, 40, 10, 10):
            raise Fail(
                f"split sizes are {sizes}, expected (40, 40, 10, 10)",
                hint="the first int(0.8·N) rows train, the rest test; no shuffling",
            )
        if np.asarray(s["X_train"]).dtype != np.float32:
            raise Fail(f"X has dtype {np.asarray(s['X_train']).dtype}, expected float32 by default")
        ulp = float(np.spacing(np.float32(1)))
        d = _close_abs(np.concatenate([s["X_train"], s["X_test"]]), X, "X", ulp)
        return max(d, _close_abs(np.concatenate([s["y_train"], s["y_test"]]), y, "y", 2 * ulp))

    def any_line() -> float:
        s, c = got[1], calls[1]
        X, y, _ = _split_ref(c)
        for mine, call in ((s, c), (got[8], calls[8])):
            X_all, _, cut = _split_ref(call)
            if len(mine["X_train"]) != cut or len(mine["X_test"]) != len(X_all) - cut:
                split = f"{len(mine['X_train'])}/{len(mine['X_test'])}"
                raise Fail(
                    f"with train_split={call['train_split']} of {len(X_all)} points the split is "
                    f"{split}, expected {cut}/{len(X_all) - cut}",
                    hint="n_train = int(train_split · N), as the course's int(0.8 * len(X))",
                )
        d = expect_close(np.concatenate([s["X_train"], s["X_test"]]), X, "X")
        try:
            return max(d, expect_close(np.concatenate([s["y_train"], s["y_test"]]), y, "y"))
        except Fail as f:
            f.hint = f.hint or "use the weight and bias you are given"
            raise

    def features() -> float:
        s, c = got[2], calls[2]
        X = np.concatenate([s["X_train"], s["X_test"]])
        k = c["features"]
        if X.ndim != 2 or X.shape[1] != k:
            raise Fail(f"with features={k}, X has shape {X.shape}", hint="one column per feature")
        lo, hi = c["start"], c["end"]
        extra = X[:, 1:]
        # Uniform on [start, end): with N ≥ 100 rows, a fifth of the range at either end stays
        # empty with probability 0.8^100 ≈ 2e-10 per column; a range taken as [0, 1) is
        # outside it or leaves an end empty.
        margin = 0.2 * (hi - lo)
        if extra.size and not (extra.min() >= lo and extra.max() < hi
                               and np.all(extra.min(axis=0) < lo + margin)
                               and np.all(extra.max(axis=0) > hi - margin)):  # fmt: skip
            raise Fail(f"the extra features span [{extra.min():.3g}, {extra.max():.3g}], "
                       f"not [start, end) = [{lo}, {hi})",
                       hint="draw the extra columns uniformly over [start, end)")  # fmt: skip
        j = np.arange(k)
        w_true = c["weight"] * (-1.0) ** j / (j + 1)
        y = np.concatenate([s["y_train"], s["y_test"]])
        ref = (as_tensor(X) @ as_tensor(w_true)[:, None] + c["bias"]).numpy()
        try:
            d = expect_close(s.get("true_weight"), w_true, "true_weight")
            return max(d, expect_close(y, ref, "y = X·w_true + bias"))
        except Fail as f:
            f.hint = (
                "y must use every column with w_j = weight·(-1)^j/(j+1), returned as true_weight"
            )
            raise

    def noise() -> float:
        s, c = got[3], calls[3]
        X = np.concatenate([s["X_train"], s["X_test"]])
        y = np.concatenate([s["y_train"], s["y_test"]])[:, 0]
        j = np.arange(c["features"])
        clean = X @ (c["weight"] * (-1.0) ** j / (j + 1)) + c["bias"]
        resid = y - clean
        # N(0, 0.3²) residuals: their std is 0.3 ± 0.3/√(2n), their mean 0 ± 0.3/√n; five of
        # those standard errors keep a right answer's false failure below one in a million.
        spread, centre, n = float(np.std(resid)), float(np.mean(resid)), len(resid)
        if abs(spread - 0.3) > 5 * 0.3 / np.sqrt(2 * n) or abs(centre) > 5 * 0.3 / np.sqrt(n):
            raise Fail(
                f"with noise=0.3 the residuals have mean {centre:.3g} and spread {spread:.3g}",
                hint="add noise · N(0, 1) to y, drawn from the seeded generator",
            )
        same, other = got[6], got[7]
        if not np.array_equal(s["y_train"], same["y_train"]):
            raise Fail("the same seed gave different noise", hint="draw it from default_rng(seed)")
        if np.array_equal(s["y_train"], other["y_train"]):
            raise Fail(
                "a different seed gave the same noise", hint="draw it from default_rng(seed)"
            )
        return 0.0

    def seed() -> float:
        a, b, again = got[2], got[4], got[5]
        if np.array_equal(a["X_train"], b["X_train"]):
            raise Fail(
                "a different seed gave the same extra features",
                hint="draw the extra columns from np.random.default_rng(seed)",
            )
        if not np.array_equal(a["X_train"], again["X_train"]):
            raise Fail("the same seed gave different data", hint="seed the generator with `seed`")
        return 0.0

    named = (
        ("the course's data", course, 0),
        ("any line and split", any_line, 1),
        ("d features", features, 2),
        ("noise", noise, 3),
        ("seed", seed, 4),
    )
    return [
        judged(
            n,
            f,
            got[i]
            if i != 4
            else next(
                (g for g in (got[2], got[4], got[5]) if isinstance(g, dict) and "__error__" in g),
                None,
            ),
        )
        for n, f, i in named
    ]


def _close_abs(got: object, ref: np.ndarray, what: str, atol: float) -> float:
    mine = np.asarray(got, dtype=np.float64)
    if mine.shape != ref.shape:
        raise Fail(
            f"{what} has shape {mine.shape}, expected {ref.shape}",
            hint=shape_hint(mine, ref.astype(np.float64)),
        )
    diff = float(np.max(np.abs(mine - ref)))
    if diff > atol:
        raise Fail(
            f"{what} differs from torch.arange's by {diff:.2e}",
            hint="X = arange(start, end, step) as one column; y = weight·X + bias",
        )
    return diff
