"""The child's side of grading: call the student's functions on the request's inputs.

This runs in the sandbox (sandbox.py) with the student's folder first on sys.path and torch
blocked. It holds no reference values: it only calls, and returns what the student's code
returned. The parent compares that with torch, out of the student's reach.

Tasks 9 and 11 grade how pieces are wired together, so the pieces they call (forward,
gradients, step, make_line, fit, …) are swapped for stand_ins.py's while they run: one
mistake in task 6 must not fail task 9 as well.
"""

from __future__ import annotations

import importlib
import importlib.abc
import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from compare.exercises.answers import apart, arr, each, error_of, student
from compare.exercises.probe_families import probe_adam, probe_cosine, probe_rmsprop
from compare.exercises.probe_torch import (
    probe_build,
    probe_predict,
    probe_state_dict,
    probe_torch_loop,
)
from compare.exercises.stand_ins import (
    STAND_INS,
    StandInLoss,
    stand_in_forward,
    stand_in_gradients,
    swapped,
)
from compare.sandbox import decode, encode


class NoTorch(importlib.abc.MetaPathFinder):
    """Refuses `import torch` (and its submodules) inside the hand-derived package."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ImportError(
                f"manual/ is derived by hand: it may not import torch (found an import of {name!r})"
            )


def probe_data(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    data = student(folder, "data")
    keys = ("X_train", "y_train", "X_test", "y_test", "true_weight", "true_bias")

    def one(kwargs: dict[str, Any]) -> dict[str, Any]:
        s = data.make_line(**kwargs)
        return {k: arr(getattr(s, k, None)) for k in keys}

    return {"calls": each(folder, req["calls"], one)}


def probe_forward(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    model = student(folder, "model")
    return {"calls": each(folder, req["calls"], lambda c: arr(model.forward(*c)))}


def probe_loss_grad(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    fn = getattr(student(folder, "losses"), req["function"])
    outputs = each(folder, req["calls"], lambda c: arr(fn(*c)))
    return {"calls": outputs, "inputs": req["calls"]}  # as the calls left them


def probe_backward(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    grads = student(folder, "gradients")

    def one(call: list[Any]) -> object:
        got = grads.backward(*call)
        return [arr(g) for g in got] if isinstance(got, tuple | list) else arr(got)

    outputs = each(folder, req["calls"], one)
    return {"calls": outputs, "inputs": req["calls"]}  # as the calls left them


def probe_sgd_update(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    optim = student(folder, "optim")
    outputs = each(folder, req["calls"], lambda c: arr(optim.sgd_update(*c)))
    return {"calls": outputs, "inputs": req["calls"]}  # as the calls left them


def probe_sgd_direction(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    optim = student(folder, "optim")

    def one(case: dict[str, Any]) -> list[dict[str, Any]]:
        opt = optim.SGD(lr=1.0, **case["options"])
        buf, steps = None, []
        for theta, grad in zip(case["thetas"], case["grads"], strict=True):
            got = optim.sgd_direction(theta, grad, buf, opt)
            if not (isinstance(got, tuple) and len(got) == 2):
                steps.append({"direction": arr(got), "buffer": None})
                break
            direction, buf = got
            steps.append({"direction": arr(direction), "buffer": arr(buf)})
        return steps

    outputs = each(folder, req["cases"], one)  # then θ and grad as the calls left them:
    return {"cases": outputs, "inputs": [[*c["thetas"], *c["grads"]] for c in req["cases"]]}


def _history(h: Any) -> dict[str, Any]:
    keys = ("train_loss", "test_loss", "weight", "bias")
    return {k: arr(np.asarray(getattr(h, k), dtype=np.float64)) for k in keys}


def probe_loop(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    train = student(folder, "train")
    optim = student(folder, "optim")

    def own_course() -> dict[str, Any]:
        """The course's case through the student's own forward, loss, gradients and step."""
        case = req["cases"][0]
        data = [case[k].copy() for k in ("X_train", "y_train", "X_test", "y_test")]
        loss = student(folder, "losses").LOSSES[case["loss"]]
        start = (case["w0"].copy(), case["b0"].copy())
        _, _, h = train.fit(*data, start, loss, optim.SGD(**case["options"]), case["epochs"])
        return {"history": _history(h)}

    own = apart(own_course, folder)  # apart: a hang in a piece costs this one case
    swapped(train, STAND_INS)

    def one(case: dict[str, Any]) -> dict[str, Any]:
        opt_cls = optim.Adam if case["optimizer"] == "adam" else optim.SGD
        opt = opt_cls(**case["options"])
        loss = StandInLoss(case["loss"])
        args = [case[k] for k in ("X_train", "y_train", "X_test", "y_test")]
        start = case["_start"] = (case["w0"].copy(), case["b0"].copy())
        kwargs = {"batch_size": case["batch_size"], "orders": case["orders"]}
        first = case["resume_after"]
        if first:
            orders = case["orders"]
            (w, b), state, _ = train.fit(
                *args,
                start,
                loss,
                opt,
                first,
                None,
                batch_size=case["batch_size"],
                orders=None if orders is None else orders[:first],
            )
            kwargs["orders"] = None if orders is None else orders[first:]
            (w, b), state, h = train.fit(
                *args, (w, b), loss, opt, case["epochs"] - first, state, **kwargs
            )
        else:
            (w, b), state, h = train.fit(*args, start, loss, opt, case["epochs"], None, **kwargs)
        return {"weight": arr(w), "bias": arr(b), "history": _history(h)}

    outputs = each(folder, req["cases"], one)  # then the data and the start as fit left them:
    keys = ("X_train", "y_train", "X_test", "y_test")
    left = [[*(c[k] for k in keys), *c.get("_start", (None, None))] for c in req["cases"]]
    return {"cases": outputs, "inputs": left, "own": own}


def probe_checkpoint(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    ck, optim, train = (student(folder, m) for m in ("checkpoint", "optim", "train"))
    path = Path(req["path"])
    state = optim.SGDState(momentum_buffer=list(req["buffers"]), step=req["step"])
    history = train.History(
        *(list(req["history"][k]) for k in ("train_loss", "test_loss")),
        list(req["history"]["weight"]),
        list(req["history"]["bias"]),
    )
    ck.save(path, req["weight"], req["bias"], state, history, dict(req["metadata"]))
    loaded = ck.load(path)
    out: dict[str, Any] = {
        "weight": arr(loaded.weight),
        "bias": arr(loaded.bias),
        "buffers": [arr(b) for b in loaded.state.momentum_buffer],
        "step": arr(getattr(loaded.state, "step", None)),
        "history": _history(loaded.history),
    }
    a, keys = req["adam"], ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    try:  # a case of its own: its error fails it alone
        adam = optim.AdamState(*(list(a[k]) for k in keys), step=a["step"])
        ck.save(Path(a["path"]), req["weight"], req["bias"], adam, history, dict(req["metadata"]))
        back = ck.load(Path(a["path"])).state
        out["adam"] = {k: [arr(x) for x in getattr(back, k, None) or []] for k in keys}
        out["adam"]["step"] = arr(getattr(back, "step", None))
    except (NotImplementedError, SystemExit, ImportError, SyntaxError):
        raise
    except Exception as e:
        out["adam"] = {"__error__": error_of(e, folder)}
    data = path.read_bytes()
    broken = path.with_name("truncated.safetensors")
    broken.write_bytes(data[: len(data) // 2])
    try:
        ck.load(broken)
        out["truncated"] = "loaded"
    except ck.CheckpointError:
        out["truncated"] = "CheckpointError"
    except Exception as e:  # the student's reader let another error through
        out["truncated"] = type(e).__name__
    return out


def probe_chapter(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    exercise = student(folder, "exercise")
    seen: dict[str, Any] = {}

    def stand_in_make_line(
        weight: float = 0.7,
        bias: float = 0.3,
        start: float = 0.0,
        end: float = 1.0,
        step: float = 0.02,
        train_split: float = 0.8,
        **_: object,
    ) -> Any:
        seen["line"] = {"weight": weight, "bias": bias, "step": step, "start": start, "end": end}
        X = np.arange(start, end, step, dtype=np.float64).astype(np.float32)[:, None]
        y = np.float32(weight) * X + np.float32(bias)
        n = int(train_split * len(X))
        return types.SimpleNamespace(X_train=X[:n], y_train=y[:n], X_test=X[n:], y_test=y[n:])

    def stand_in_fit(
        X: np.ndarray,
        y: np.ndarray,
        Xt: np.ndarray,
        yt: np.ndarray,
        params: Any,
        loss: Any,
        opt: Any,
        epochs: int,
        *_: object,
        **__: object,
    ) -> Any:
        seen["loss"] = getattr(loss, "name", type(loss).__name__)
        seen["lr"], seen["epochs"] = float(opt.lr), int(epochs)
        options = ("momentum", "dampening", "weight_decay", "nesterov", "maximize", "betas")
        seen["optimizer"] = {
            "type": type(opt).__name__,
            **{k: _plain(getattr(opt, k)) for k in options if hasattr(opt, k)},
        }
        w, b = np.array(params[0], dtype=np.float32), np.array(params[1], dtype=np.float32)
        h = types.SimpleNamespace(train_loss=[], test_loss=[], weight=[], bias=[])
        for _epoch in range(int(epochs)):
            value, dw, db = stand_in_gradients(X, y, w, b, loss)
            w = (w - np.float32(opt.lr) * dw).astype(np.float32)
            b = (b - np.float32(opt.lr) * db).astype(np.float32)
            h.train_loss.append(value)
            h.test_loss.append(loss.value(stand_in_forward(Xt, w, b), yt))
            h.weight.append(w.copy())
            h.bias.append(float(b[0]))
        return (w, b), None, h

    # First through the student's own make_line, fit and losses, as the exercise is run,
    # apart: a hang in a piece costs this one case...
    own = apart(
        lambda: _history(exercise.chapter_exercise(req["w0"].copy(), req["b0"].copy())), folder
    )
    # ...then with correct pieces, so that a slip in task 1 or 9 is not task 11's as well.
    losses = {name: StandInLoss(name) for name in ("l1", "mse", "huber")}
    swapped(exercise, {"make_line": stand_in_make_line, "fit": stand_in_fit, "LOSSES": losses})
    h = exercise.chapter_exercise(req["w0"].copy(), req["b0"].copy())
    return {"history": _history(h), "own": own, "seen": seen}


def _plain(value: object) -> object:
    """A setting as JSON can carry it, whatever the student's object holds."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list) and all(isinstance(v, int | float) for v in value):
        return [float(v) for v in value]
    return repr(value)[:60]


PROBES: dict[int, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    1: probe_data,
    2: probe_forward,
    3: probe_loss_grad,
    4: probe_loss_grad,
    5: probe_loss_grad,
    6: probe_backward,
    7: probe_sgd_update,
    8: probe_sgd_direction,
    9: probe_loop,
    10: probe_checkpoint,
    11: probe_chapter,
    12: probe_adam,
    13: probe_build,
    14: probe_torch_loop,
    15: probe_predict,
    16: probe_state_dict,
    17: probe_rmsprop,
    18: probe_cosine,
}


def answer(req: dict[str, Any]) -> dict[str, Any]:
    """Run the request's probe on the student's code; every failure is an answer too.

    Called once per process (a fresh child, or one forked from compare/zygote.py), since it
    puts the student's folder on sys.path and imports the student's modules.
    """
    folder = req["folder"]
    if req.get("package", "manual") == "manual":
        sys.meta_path.insert(0, NoTorch())
    sys.path.insert(0, folder)
    sys.stdout = sys.stderr  # the student's prints must not reach anything we read
    try:
        return {"ok": PROBES[req["task"]](folder, req)}
    except BaseException as e:  # SystemExit from the student's code is a result too
        return {"error": error_of(e, folder)}


def main(request_path: str, answer_path: str) -> None:
    """Read the request, run the probe, write the answer."""
    req = decode(json.loads(Path(request_path).read_text()))
    Path(answer_path).write_text(json.dumps(encode(answer(req))))
