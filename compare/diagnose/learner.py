"""The child's side of a diagnosis: run a learner's training loop and record what it did.

This runs in the sandbox (compare/sandbox.py) with the learner's file's folder on sys.path
and torch allowed. It builds the model, loss and optimizer (the learner's build(), or the
course's), wraps them to record every optimizer.step() (the parameters after it and the
gradients it saw), the order of zero_grad / backward / step, and how each loss was computed
(which split, grad mode, model.training), then calls the learner's train(). It judges nothing.
"""

from __future__ import annotations

import json
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compare.sandbox import decode, encode

MAX_EVENTS = 20_000  # a loop that runs away still answers, with what it did first


class LinearRegressionModel(torch.nn.Module):
    """The chapter's model_0, as its cell writes it (the installed key stays hidden here)."""

    def __init__(self) -> None:
        super().__init__()
        self.weights = torch.nn.Parameter(torch.randn(1), requires_grad=True)
        self.bias = torch.nn.Parameter(torch.randn(1), requires_grad=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weights * x + self.bias


class LearnerError(Exception):
    """The learner's file cannot be diagnosed as it stands; the message says why, and where."""


def flat(model: torch.nn.Module) -> np.ndarray:
    """The model's parameters in order, as one float64 vector: [w_1 … w_d, b] for the course."""
    with torch.no_grad():
        return np.concatenate(
            [p.detach().cpu().double().reshape(-1).numpy() for p in model.parameters()]
        )


def where_in(e: BaseException, path: Path) -> str:
    """`file.py line 12`: the deepest frame in the learner's own file."""
    if isinstance(e, SyntaxError) and e.filename:
        return f"{Path(e.filename).name} line {e.lineno}"
    found = ""
    for frame in traceback.extract_tb(e.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            found = f"{path.name} line {frame.lineno}"
    return found or path.name


def chapter_start(model: torch.nn.Module) -> np.ndarray:
    """What the chapter's torch.manual_seed(42) gives this kind of model, from a fresh build.

    Not a second call of the learner's build(): one that seeds itself with 7 would give
    seed 7's start again and hide the difference. The model's class is built with no
    arguments under seed 42 (the chapter's classes take none); the chapter's nn.Parameter
    model stands in for a class that needs arguments.
    """
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(42)
        try:
            fresh = type(model)()
        except Exception:
            torch.manual_seed(42)
            fresh = LinearRegressionModel()
        return flat(fresh)
    finally:
        torch.random.set_rng_state(state)


def course_build(
    lr: float, loss: str, optimizer: str, model_class: type[torch.nn.Module] | None = None
) -> tuple[Any, Any, Any]:
    """The chapter's model_0 (or `model_class`) under seed 42, its loss, and its optimizer."""
    torch.manual_seed(42)
    model = (model_class or LinearRegressionModel)()
    loss_fn = {"l1": torch.nn.L1Loss, "mse": torch.nn.MSELoss, "huber": torch.nn.HuberLoss}[loss]()
    make = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[optimizer]
    return model, loss_fn, make(model.parameters(), lr=lr)


def record(req: dict[str, Any]) -> dict[str, Any]:
    """Run the learner's file's train() under instrumentation; return the recording."""
    path = Path(req["file"])
    sys.path.insert(0, str(path.parent))
    try:
        namespace = runpy.run_path(str(path), run_name="learner")
    except SystemExit:
        raise LearnerError(f"{path.name} calls sys.exit() when it is imported") from None
    except BaseException as e:
        raise LearnerError(_raised(e, path)) from None
    train = namespace.get("train")
    if not callable(train):
        raise LearnerError(
            f"{path.name} defines no train(model, loss_fn, optimizer, X_train, "
            "y_train, X_test, y_test, epochs)"
        )
    return record_run(req, train, namespace.get("build"), path)


def record_run(
    req: dict[str, Any], train: Any, build: Any, path: Path, model_class: Any = None
) -> dict[str, Any]:
    """Build (the learner's way, or the course's with `model_class`), instrument, run `train`."""
    seed42_start = None
    try:
        if callable(build):
            built = build()
            if not (isinstance(built, tuple | list) and len(built) == 3):
                raise LearnerError("build() must return (model, loss_fn, optimizer)")
            model, loss_fn, optimizer = built
            if isinstance(model, torch.nn.Module):
                seed42_start = chapter_start(model)
        else:
            model, loss_fn, optimizer = course_build(
                req["lr"], req["loss"], req["optimizer"], model_class
            )
    except LearnerError:
        raise
    except BaseException as e:
        raise LearnerError(_raised(e, path)) from None
    if not isinstance(model, torch.nn.Module) or not isinstance(optimizer, torch.optim.Optimizer):
        raise LearnerError("build() must return an nn.Module, a loss and a torch.optim optimizer")

    params = list(model.parameters())
    events: list[list[Any]] = []
    steps: list[np.ndarray] = []
    grads: list[list[Any]] = []
    loss_calls: list[dict[str, Any]] = []
    loss_ids: dict[int, int] = {}
    X_train, y_train, X_test, y_test = (torch.from_numpy(np.asarray(req[k])) for k in
                                        ("X_train", "y_train", "X_test", "y_test"))  # fmt: skip

    def split_of(target: object) -> str:
        if isinstance(target, torch.Tensor):
            for name, y in (("train", y_train), ("test", y_test)):
                if target.shape == y.shape and torch.equal(target.detach().cpu(), y):
                    return name
        return "other"

    def on_loss(module: object, inputs: tuple[Any, ...], output: object) -> None:
        target = inputs[1] if len(inputs) > 1 else None
        loss_calls.append({
            "split": split_of(target),
            "grad": torch.is_grad_enabled() and not torch.is_inference_mode_enabled(),
            "training": bool(model.training),
            "step": len(steps),
        })  # fmt: skip
        if isinstance(output, torch.Tensor):
            loss_ids[id(output)] = len(loss_calls) - 1

    if isinstance(loss_fn, torch.nn.Module):
        loss_fn.register_forward_hook(on_loss)
    real_step, real_zero = optimizer.step, optimizer.zero_grad
    real_backward = torch.Tensor.backward

    def step(*args: Any, **kwargs: Any) -> Any:
        if len(events) < MAX_EVENTS:
            events.append(["step", len(steps)])
        grads.append([None if p.grad is None else p.grad.detach().cpu().double().reshape(-1).numpy()
                      for p in params])  # fmt: skip
        out = real_step(*args, **kwargs)
        steps.append(flat(model))
        return out

    def zero_grad(*args: Any, **kwargs: Any) -> Any:
        if len(events) < MAX_EVENTS:
            events.append(["zero_grad", len(steps)])
        return real_zero(*args, **kwargs)

    def backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if len(events) < MAX_EVENTS:
            events.append(["backward", len(steps), loss_ids.get(id(self))])
        return real_backward(self, *args, **kwargs)

    optimizer.step = step  # type: ignore[method-assign]
    optimizer.zero_grad = zero_grad  # type: ignore[method-assign]
    torch.Tensor.backward = backward  # type: ignore[method-assign]
    start = flat(model)
    holds = {id(p) for g in optimizer.param_groups for p in g["params"]}
    try:
        train(model, loss_fn, optimizer, X_train, y_train, X_test, y_test, req["epochs"])
    except SystemExit:
        raise LearnerError(f"train() called sys.exit() ({path.name})") from None
    except BaseException as e:
        raise LearnerError(_raised(e, path)) from None
    finally:
        torch.Tensor.backward = real_backward  # type: ignore[method-assign]
    return {
        "start": start,
        "seed42_start": seed42_start,
        "steps": np.array(steps).reshape(len(steps), start.size),
        "grads": [[g if g is not None else None for g in gs] for gs in grads],
        "events": events,
        "loss_calls": loss_calls[:MAX_EVENTS],
        "reduction": getattr(loss_fn, "reduction", None),
        "loss_class": type(loss_fn).__name__,
        "holds_model_params": bool(holds) and holds <= {id(p) for p in params},
        "holds_any_model_param": bool(holds & {id(p) for p in params}),
        "optimizer_class": type(optimizer).__name__,
        "lr": [float(g.get("lr", float("nan"))) for g in optimizer.param_groups],
        "model_class": type(model).__name__,
        "shapes": [list(p.shape) for p in params],
        "built": callable(build),
    }


def _raised(e: BaseException, path: Path) -> str:
    """One line: the exception, and where in the learner's file it was raised."""
    msg = e.msg if isinstance(e, SyntaxError) else str(e)
    text = str(msg).strip().splitlines()[0][:200] if str(msg).strip() else ""
    return f"{type(e).__name__} at {where_in(e, path)}" + (f": {text}" if text else "")


def main(request_path: str, answer_path: str) -> None:
    """Read the request, record the learner's run, write the answer."""
    req = decode(json.loads(Path(request_path).read_text()))
    sys.stdout = sys.stderr  # the learner's prints go to stderr, never into the answer
    try:
        answer: dict[str, Any] = {"ok": record(req)}
    except LearnerError as e:
        answer = {"error": str(e)}
    Path(answer_path).write_text(json.dumps(encode(answer)))
