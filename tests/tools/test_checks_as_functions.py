"""Each task's check as a function of its drawn arguments, over seeds that hypothesis draws.

The grader draws every argument from the run's seed. Here hypothesis draws the seeds, and
prints the one that falsifies, so that each check holds over its arguments' ranges and not
for a few cases: the key passes every task, the slips of each kind the checks once missed
fail on any seed, and the arguments drawn cover the ranges the tasks document.
"""

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compare.exercises.checks import CHECKS
from compare.exercises.grade import grade_tasks
from compare.exercises.scaffold import new_copy
from compare.exercises.tasks import TASKS
from compare.sandbox import Limits
from compare.sandbox_tasks import Pool

from .test_exercises import MISTAKES

SEEDS = st.integers(0, 2**31 - 1)
# One slip of each kind the checks once missed (test_exercises.py plants them all on one seed).
KINDS = (
    "huber: δ taken as 1",  # an argument held fixed
    "data: extra features on [0, 1) whatever the range",  # a range never drawn
    "l1: small residuals rounded to zero",  # a case never drawn
    "mse: resid written into pred",  # a side effect
    "adam: L2 added to the caller's grad in place",  # a side effect, in a later step
    "chapter: Adam instead of SGD",  # a stand-in that read only one setting
    "torch build: momentum 0.9",  # only part of the result compared
    "checkpoint: an Adam state saved as SGD's",  # only one state type saved
)


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """The key and one copy per slip, and the sandboxes that grade them all."""
    root = tmp_path_factory.mktemp("copies")
    made = {}
    for name in ("key", *KINDS):
        dest = root / f"c{len(made):02d}"
        new_copy(dest, with_solutions=True)
        if name != "key":
            _, file, old, new, _ = MISTAKES[name]
            path = dest / (
                file if file.startswith(("manual/", "torch_impl/")) else f"manual/{file}"
            )
            path.write_text(path.read_text().replace(old, new, 1))
        made[name] = dest
    with Pool(Limits(), hide=(root,)) as pool:
        yield made, pool


@settings(max_examples=5, deadline=None, database=None)
@given(seed=SEEDS)
def test_the_key_passes_every_task_on_any_seed(copies, seed):
    made, pool = copies
    results = grade_tasks(made["key"], [t.number for t in TASKS], seed, pool=pool)
    assert all(r.passed for r in results), [r.line() for r in results if not r.passed]


@settings(max_examples=4, deadline=None, database=None)
@given(seed=SEEDS)
def test_a_slip_of_each_kind_once_missed_fails_on_any_seed(copies, seed):
    made, pool = copies
    for name in KINDS:
        task = MISTAKES[name][0]
        (result,) = grade_tasks(made[name], [task], seed, pool=pool)
        assert not result.passed, f"{name} passed task {task} on seed {seed}"


def _drawn(seeds: range) -> dict[str, list[float]]:
    """The arguments the checks drew, by name, over `seeds` (built, not graded)."""
    seen: dict[str, list[float]] = defaultdict(list)
    for seed in seeds:

        def plan(number: int, seed: int = seed) -> dict:
            return CHECKS[number][0](np.random.default_rng([seed, number]), None).request

        for _, _, *delta in plan(5)["calls"]:
            seen["δ"] += [float(d) for d in delta]
        for pred, *_ in plan(3)["calls"]:
            seen["N"].append(len(pred))
            seen["float64"].append(float(pred.dtype == np.float64))
        for X, _ in plan(6)["calls"]:
            seen["d"].append(X.shape[1])
        for _theta, _, lr in plan(7)["calls"]:
            seen["sgd_update lr"].append(lr)
        for case in plan(8)["cases"]:
            for key in ("momentum", "dampening", "weight_decay"):
                seen[f"SGD {key}"] += [case["options"][key]] if key in case["options"] else []
        for case in plan(12)["cases"]:
            o = case["options"]
            seen["Adam lr"].append(o["lr"])
            seen["Adam eps"].append(o["eps"])
            seen["β1"].append(o["betas"][0])
            seen["β2"].append(o["betas"][1])
            seen["Adam weight_decay"] += [o["weight_decay"]] if "weight_decay" in o else []
        for case in plan(9)["cases"]:
            seen["loop lr"].append(case["options"]["lr"])
            seen["loop optimizer is adam"].append(float(case["optimizer"] == "adam"))
        for case in plan(17)["cases"]:
            o = case["options"]
            for key in ("lr", "alpha", "eps", "momentum", "weight_decay"):
                seen[f"RMSprop {key}"] += [o[key]] if key in o else []
        for case in plan(18)["cases"]:
            seen["cosine T_max"].append(case["T_max"])
            seen["cosine base lr"].append(case["base_lr"])
            seen["cosine eta_min share"] += [case["eta_min"] / case["base_lr"]] * (
                case["eta_min"] > 0
            )
    return seen


def test_the_drawn_arguments_cover_their_documented_ranges():
    """No argument is held fixed: each spans its range over 30 seeds (the tasks' docstrings
    and docs/exercises.md give the ranges)."""
    seen = {k: np.asarray(v, dtype=np.float64) for k, v in _drawn(range(30)).items()}
    spans = {  # name: (at or below, at or above): both ends must be reached
        "δ": (0.5, 2.0),
        "N": (5, 25),
        "d": (1, 5),
        "float64": (0, 1),
        "sgd_update lr": (0.01, 0.3),
        "SGD momentum": (0.5, 0.9),
        "SGD dampening": (0.3, 0.7),
        "SGD weight_decay": (0.01, 0.1),
        "Adam lr": (0.02, 0.1),
        "Adam eps": (1e-8, 1e-3),
        "β1": (0.3, 0.9),
        "β2": (0.6, 0.999),
        "Adam weight_decay": (0.01, 0.1),
        "loop lr": (0.03, 0.1),
        "loop optimizer is adam": (0, 1),
        "RMSprop lr": (2e-3, 3e-2),
        "RMSprop alpha": (0.3, 0.99),  # a short memory's and the usual
        "RMSprop eps": (1e-8, 1e-3),
        "RMSprop momentum": (0.5, 0.9),
        "RMSprop weight_decay": (0.01, 0.1),
        "cosine T_max": (5, 25),
        "cosine base lr": (3e-3, 0.3),
        "cosine eta_min share": (0.05, 0.4),
    }
    for name, (low, high) in spans.items():
        values = seen[name]
        assert values.min() <= low and values.max() >= high, (name, values.min(), values.max())


def test_the_ranges_stay_where_torch_accepts_them():
    """Drawn, never invalid: torch itself would refuse what falls outside."""
    seen = {k: np.asarray(v) for k, v in _drawn(range(30)).items()}
    assert (seen["δ"] > 0).all() and (seen["d"] >= 1).all() and (seen["N"] >= 1).all()
    assert ((seen["SGD momentum"] > 0) & (seen["SGD momentum"] < 1)).all()
    assert ((seen["β1"] >= 0) & (seen["β1"] < 1) & (seen["β2"] >= 0) & (seen["β2"] < 1)).all()
    assert (seen["Adam eps"] > 0).all() and (seen["Adam lr"] > 0).all()
    assert ((seen["RMSprop alpha"] >= 0) & (seen["RMSprop alpha"] < 1)).all()
    assert (seen["RMSprop eps"] > 0).all() and (seen["cosine T_max"] >= 1).all()


def test_the_fixture_copies_carry_their_slips(copies):
    """Each copy differs from the key where its slip is planted (else the test above proves
    nothing)."""
    made, _ = copies
    for name in KINDS:
        _, file, _, new, _ = MISTAKES[name]
        where = file if file.startswith(("manual/", "torch_impl/")) else f"manual/{file}"
        assert new in Path(made[name], where).read_text(), name


def test_the_chapters_batched_kink_slack_is_the_diagnosis_one_at_every_start():
    """Task 11 works out the L1 kink's slack for its 300 starts at once; it must be
    kink_slack's (compare/diagnose/catalogue.py) at each, kinks included."""
    from compare.diagnose.catalogue import kink_slack
    from compare.exercises.checks.loops import _kink_slacks

    rng = np.random.default_rng(3)
    X = np.arange(0, 1, 0.01)[:80, None].astype(np.float32).astype(np.float64)
    y = (0.3 * X + 0.9).astype(np.float32).astype(np.float64)
    w, b = rng.uniform(-1, 1, 40), rng.uniform(-1, 1, 40)
    w[:8], b[:8] = 0.3, 0.9  # on the line: every residual within rounding of 0
    eps = float(np.finfo(np.float32).eps)
    want = np.array([kink_slack(X, y, w[e : e + 1], b[e : e + 1], eps) for e in range(40)])
    assert (want[:8] > 0).all() and np.array_equal(_kink_slacks(X, y, w, b, eps), want)
