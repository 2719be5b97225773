"""Tasks 9 and 11: the training loop and the chapter's exercise, judged epoch by epoch."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch

from compare.exercises.checks.common import (
    TORCH_LOSSES,
    Case,
    Fail,
    Plan,
    answer_cases,
    as_tensor,
    expect_close,
    fail_overwrites,
    judged,
    keeps_hint,
    seeded,
)
from compare.exercises.checks.optimizers import drawn, drawn_adam

# ------------------------------------------------------------------------------ task 9: loop


def _torch_loop(case: dict[str, Any], slip: str = "") -> dict[str, np.ndarray]:
    """The course's loop in plain torch: batches in `orders`, losses before each step.

    `slip` runs it with one classic slip, as a fingerprint to name that slip by only when the
    student's history follows it: "whole_set" (each mini-batch steps on the whole training
    set's gradient), "drop_last" (the last short batch left out), "unshuffled" (orders
    ignored), "fresh_state" (the state passed in at the resume ignored), "sgd" (plain SGD
    whatever the optimizer).
    """
    w = torch.nn.Parameter(as_tensor(case["w0"]))
    b = torch.nn.Parameter(as_tensor(case["b0"]))

    def optimizer() -> torch.optim.Optimizer:
        options = dict(case["options"])
        if slip == "sgd":
            return torch.optim.SGD([w, b], lr=options["lr"])
        if case["optimizer"] == "adam":
            cls = torch.optim.AdamW if options.pop("decoupled", False) else torch.optim.Adam
            return cls([w, b], **options)
        return torch.optim.SGD([w, b], **options)

    opt = optimizer()
    loss_fn = TORCH_LOSSES[case["loss"]]()
    X, y = as_tensor(case["X_train"]), as_tensor(case["y_train"])
    n, size = len(X), case["batch_size"] or len(X)
    end = n - n % size if slip == "drop_last" else n
    hist: dict[str, list[Any]] = {"train_loss": [], "test_loss": [], "weight": [], "bias": []}
    for epoch in range(case["epochs"]):
        shuffled = case["orders"] is not None and slip != "unshuffled"
        order = case["orders"][epoch] if shuffled else np.arange(n)
        if slip == "fresh_state" and epoch == case["resume_after"]:
            opt = optimizer()
        losses = []
        for i in range(0, end, size):
            rows = torch.as_tensor(order[i : i + size] if slip != "whole_set" else np.arange(n))
            loss = loss_fn(X[rows] @ w[:, None] + b, y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with torch.no_grad():
            test = loss_fn(as_tensor(case["X_test"]) @ w[:, None] + b, as_tensor(case["y_test"]))
        hist["train_loss"].append(float(np.mean(losses)))
        hist["test_loss"].append(test.item())
        hist["weight"].append(w.detach().numpy().copy())
        hist["bias"].append(b.item())
    return {k: np.asarray(v, dtype=np.float64) for k, v in hist.items()}


# Each case's name, and the slip whose fingerprint (its own run, in _torch_loop) it checks for
# when it fails, with the hint that names it: a hint only where the history follows the slip.
LOOP_CASES: dict[str, tuple[str, str]] = {
    "full batch, the course": ("", ""),
    "mini-batches that do not divide N": (
        "drop_last", "the last short batch was left out: batches(n, batch_size, order) keeps it"),
    "shuffled orders": ("unshuffled", "orders were ignored: visit the rows in orders[epoch]"),
    "resumed with the state passed in": (
        "fresh_state", "the state passed in was ignored: start from the `state` argument"),
    "Adam through the loop": (
        "sgd", "the loop stepped with plain SGD: step() dispatches on the optimizer; do not "
        "call sgd_step directly"),
    "float32": ("", ""),
}  # fmt: skip
WHOLE_SET = ("each mini-batch step takes the whole training set's gradient: compute it on "
             "X_train[rows], y_train[rows]")  # fmt: skip
OWN_PIECES = "the course's case, through your own forward, loss, gradients and step"
SUMMED = "the epoch's train loss is the mean of its batches' losses, not their sum"
FLOAT32 = "the same loop passes in float64: keep the arrays' dtype, no float64 sneaking in"


def build_loop(rng: np.random.Generator) -> Plan:
    def data(n: int, d: int, dt: str) -> dict[str, np.ndarray]:
        X = rng.uniform(0, 1, (n + 6, d)).astype(dt)
        y = (X @ seeded(rng, (d,)) + 0.3 + 0.05 * rng.standard_normal(n + 6)).astype(dt)[:, None]
        return {"X_train": X[:n], "y_train": y[:n], "X_test": X[n:], "y_test": y[n:]}

    def case(
        loss: str,
        optimizer: str,
        options: dict[str, Any],
        batch: int | None,
        shuffle: bool,
        resume: int,
        dt: str = "float64",
    ) -> dict[str, Any]:
        n, d, epochs = int(rng.integers(13, 31)), int(rng.integers(1, 6)), 6
        if batch is not None and n % batch == 0:
            n += 1  # a batch size that does not divide N
        orders = [rng.permutation(n) for _ in range(epochs)] if shuffle else None
        return {
            **data(n, d, dt),
            "w0": seeded(rng, (d,), dt),
            "b0": seeded(rng, (1,), dt),
            "loss": loss,
            "optimizer": optimizer,
            "options": options,
            "epochs": epochs,
            "batch_size": batch,
            "orders": orders,
            "resume_after": resume,
        }

    def sgd(*more: str) -> dict[str, float]:  # each case's lr drawn, and the options named
        return {"lr": drawn(rng, "loop lr"), **{k: drawn(rng, k) for k in more}}

    adam = drawn_adam(rng, {"amsgrad": True})
    cases = [
        case("l1", "sgd", sgd(), None, False, 0),
        case("mse", "sgd", sgd(), 4, False, 0),
        case("huber", "sgd", sgd(), 5, True, 0),
        case("mse", "sgd", sgd("momentum"), 4, True, 3),
        case("l1", "adam", adam, 6, False, 0),
        case("l1", "sgd", sgd(), None, False, 0, "float32"),
    ]
    refs = [_torch_loop(c) for c in cases]
    return Plan({"cases": cases}, {"refs": refs, "cases": cases})


def judge_loop(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs, cases = plan.expected["refs"], plan.expected["cases"]
    got = answer_cases(answer, len(refs), "fit")
    out = []

    def check(ref: Any, c: Any, mine: Any) -> float:
        h, first = mine["history"], c["resume_after"]
        dt = str(c["X_train"].dtype)
        if c["optimizer"] == "adam" and dt == "float64":
            # Adam divides by √v̂ + ε: where v̂ is small the step's rounding grows by
            # |m̂|/(√v̂ + ε), up to ~1e3 here, so two correct float64 loops part by ~1e-10
            # after 30 steps. Any real slip moves them by 1e-3 or more.
            dt = "float64-adam"
        worst = 0.0
        for key in ("train_loss", "test_loss", "weight", "bias"):
            want = ref[key][first:]
            mine_k = np.asarray(h[key])
            if len(mine_k) != len(want):
                raise Fail(f"history.{key} has {len(mine_k)} entries, expected {len(want)}")
            worst = max(worst, expect_close(mine_k, want, f"history.{key}", dt))
        return worst

    for name, ref, c, mine in zip(LOOP_CASES, refs, cases, got, strict=True):
        case = judged(name, partial(check, ref, c, mine), mine)
        if not case.passed and not keeps_hint(case):
            slip, hint = LOOP_CASES[name]
            # The comparison's own hint (a constant ratio to torch's) or none, unless a
            # slip's own run is what the history follows.
            if c["batch_size"] is not None and _matches(mine, _torch_loop(c, "whole_set")):
                case.hint = WHOLE_SET
            elif slip and _matches(mine, _torch_loop(c, slip)):
                case.hint = hint
            elif c["batch_size"] and _summed_batches(mine, ref, _batches(c)):
                case.hint = SUMMED
        out.append(case)
    if not out[-1].passed and all(c.passed for c in out[:-1]) and not keeps_hint(out[-1]):
        out[-1].hint = FLOAT32  # the float32 case alone fails: its dtype is what differs
    keys = ("X_train", "y_train", "X_test", "y_test", "w0", "b0")
    sent = [[c[k] for k in keys] for c in cases]
    fail_overwrites(out, sent, answer, ("X_train", "y_train", "X_test", "y_test", "w", "b"))
    # And the course's case again, through the student's own forward, loss, gradients, step.
    own = answer.get("own")  # {"history": …}, or the error the student's pieces raised
    through = judged(OWN_PIECES, partial(check, refs[0], cases[0], own), own)
    if out[0].passed and not through.passed and not through.hint:
        through.hint = ("fit is right with correct pieces, so one it calls is not (forward, a "
                        "loss's grad, gradients, step): the other FAILs name it")  # fmt: skip
    return [*out, through]


def _batches(case: dict[str, Any]) -> int:
    return -(-len(case["X_train"]) // case["batch_size"])  # ⌈N / batch size⌉


def _summed_batches(mine: Any, ref: dict[str, np.ndarray], batches: int) -> bool:
    """The train loss is the sum of the epoch's batch losses: the mean's, times their count."""
    try:
        got = np.asarray(mine["history"]["train_loss"], dtype=np.float64)
    except (TypeError, KeyError, ValueError):
        return False
    want = ref["train_loss"][-len(got) :] * batches if len(got) else None
    return want is not None and bool(np.allclose(got, want, rtol=1e-6, atol=1e-12))


def _matches(mine: Any, ref: dict[str, np.ndarray]) -> bool:
    """The child's weights follow `ref`: a slip's fingerprint, checked in the grader."""
    try:
        got = np.asarray(mine["history"]["weight"], dtype=np.float64)
    except (TypeError, KeyError, ValueError):
        return False
    first = len(ref["weight"]) - len(got)
    want = ref["weight"][first:] if first >= 0 else None
    return (
        want is not None
        and got.shape == want.shape
        and np.allclose(got, want, rtol=1e-5, atol=1e-7)
    )


# ------------------------------------------------------------- task 11: the chapter's exercise


CHAPTER_EPOCHS, CHAPTER_LR = 300, 0.01


def build_chapter(rng: np.random.Generator) -> Plan:
    w0, b0 = seeded(rng, (1,), "float32"), seeded(rng, (1,), "float32")
    X = torch.arange(0, 1, 0.01).unsqueeze(dim=1)
    y = 0.3 * X + 0.9
    n = int(0.8 * len(X))
    data = {"X_train": X[:n], "y_train": y[:n], "X_test": X[n:], "y_test": y[n:]}
    return Plan({"w0": w0, "b0": b0}, {"w0": w0, "b0": b0, "data": data})


def torch_steps(
    w: np.ndarray, b: np.ndarray, data: dict[str, torch.Tensor]
) -> dict[str, np.ndarray]:
    """One epoch of the chapter's loop in float32 torch from each of E starts (w[e], b[e]) at
    once: loss, then w, b, test. Start e's loss depends on its own parameters alone, so one
    backward of the sum gives every start its own gradient, and one SGD step its own step."""
    wp = torch.nn.Parameter(as_tensor(w.astype(np.float32)))
    bp = torch.nn.Parameter(as_tensor(b.astype(np.float32)))
    opt = torch.optim.SGD([wp, bp], lr=CHAPTER_LR)
    X, y = data["X_train"], data["y_train"]  # (n, 1): X @ w[None] is each start's ŷ column
    loss = (X @ wp[None, :] + bp - y).abs().mean(dim=0)  # nn.L1Loss per column
    opt.zero_grad()
    loss.sum().backward()
    opt.step()
    with torch.inference_mode():
        test = (data["X_test"] @ wp[None, :] + bp - data["y_test"]).abs().mean(dim=0)
    return {
        "train_loss": loss.detach().double().numpy(),
        "weight": wp.detach().double().numpy(),
        "bias": bp.detach().double().numpy(),
        "test_loss": test.double().numpy(),
    }


def _kink_slacks(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float
) -> np.ndarray:
    """kink_slack (compare/diagnose/catalogue.py) for one feature at E starts (w[e], b[e]) at
    once: row e is (dw's slack, db's slack)."""
    r = X @ w[None, :] + b - y  # (N, E): each start's residuals
    rounding = 4 * eps * (np.abs(X) @ np.abs(w)[None, :] + np.abs(b) + np.abs(y))
    near = np.abs(r) <= rounding
    n = len(X)
    return np.stack([2 * (np.abs(X) * near).sum(axis=0) / n, 2 * near.sum(axis=0) / n], axis=1)


def judge_chapter(answer: dict[str, Any], plan: Plan) -> list[Case]:
    seen = answer.get("seen", {})

    def settings() -> float:
        if seen.get("loss") != "l1":
            raise Fail(
                f"the exercise trained with {seen.get('loss')!r} loss",
                hint="the chapter's exercise uses L1 loss: LOSSES['l1']",
            )
        line = seen.get("line", {})
        if (line.get("weight"), line.get("bias"), line.get("step")) != (0.3, 0.9, 0.01):
            raise Fail(
                f"the line was made with {line}",
                hint="the line is y = 0.3·x + 0.9 over arange(0, 1, 0.01)",
            )
        if (seen.get("lr"), seen.get("epochs")) != (0.01, 300):
            raise Fail(
                f"SGD(lr={seen.get('lr')}) for {seen.get('epochs')} epochs",
                hint="SGD(lr=0.01) for 300 epochs",
            )
        opt = seen.get("optimizer") if isinstance(seen.get("optimizer"), dict) else {}
        if opt.get("type") != "SGD":
            raise Fail(f"the exercise trained with {opt.get('type')!r}",
                       hint="the chapter's optimizer: SGD(lr=0.01)")  # fmt: skip
        plain = {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False,
                 "maximize": False}  # fmt: skip
        extra = {k: v for k, v in opt.items() if k in plain and v != plain[k]}
        if extra:
            said = ", ".join(f"{k}={v}" for k, v in extra.items())
            raise Fail(f"SGD(lr=0.01, {said})", hint="the chapter's SGD(lr=0.01) sets nothing else")
        return 0.0

    def history(which: str = "history") -> float:
        """Each epoch from the student's own previous one: float32 rounding at an L1 kink
        cannot grow along the path, and a real slip shows at the epoch it happens."""
        h = answer[which]
        mine: dict[str, np.ndarray] = {}
        for key in ("train_loss", "test_loss", "weight", "bias"):
            mine[key] = np.asarray(h[key], dtype=np.float64).reshape(-1)
            if mine[key].shape != (CHAPTER_EPOCHS,):
                raise Fail(f"history.{key} has {mine[key].size} entries, expected 300 epochs")
        data = plan.expected["data"]
        X, y = data["X_train"].double().numpy(), data["y_train"].double().numpy()
        eps = float(np.finfo(np.float32).eps)
        # Epoch k starts from the student's epoch k - 1 (epoch 0 from the start given).
        starts_w = np.concatenate([plan.expected["w0"].astype(np.float64), mine["weight"][:-1]])
        starts_b = np.concatenate([plan.expected["b0"].astype(np.float64), mine["bias"][:-1]])
        refs = torch_steps(starts_w, starts_b, data)
        slacks = CHAPTER_LR * _kink_slacks(X, y, starts_w, starts_b, eps)
        worst = 0.0
        for epoch in range(CHAPTER_EPOCHS):
            slack = slacks[epoch]  # where a residual rounds to ±0
            allowed = {"weight": slack[0], "bias": slack[1], "train_loss": 0.0,
                       "test_loss": float(np.abs(X).max() + 1) * max(slack)}  # fmt: skip
            for key, wants in refs.items():
                want, got = float(wants[epoch]), float(mine[key][epoch])
                gap = abs(got - want)
                if not (np.isfinite(got) and gap <= 1e-6 + 1e-5 * abs(want) + allowed[key]):
                    origin = f"your epoch {epoch - 1}" if epoch else "the start (w0, b0)"
                    raise Fail(
                        f"history.{key} at epoch {epoch} is {got:.6g}; one torch epoch from "
                        f"{origin} gives {want:.6g}",
                        gap,
                        # The one fingerprint this check can name: a path that never began
                        # at the start it was given.
                        "begin from the start (w0, b0) you are given" if epoch == 0 else "",
                    )
                worst = max(worst, gap)
        return worst

    path = judged("trajectory from a random start", history)
    own = judged("the same, through your own make_line and fit", partial(history, "own"),
                 answer.get("own"))  # fmt: skip
    if path.passed and not own.passed and not own.hint:
        own.hint = (
            "chapter_exercise is right with correct pieces, so one it calls is not "
            "(make_line, a loss, fit, or what fit calls): the other FAILs name it"
        )
    return [judged("settings", settings), path, own]
