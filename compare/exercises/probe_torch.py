"""The child's side of grading the torch tasks (13-16): build, train_step, predict, the state_dict.

As probe.py, which dispatches to these: they only call the student's code and return what it
gave, with the evidence the grader needs to judge it (parameters that moved, the model's
state after a call). torch is imported inside each, since the by-hand tasks must not load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from compare.exercises.answers import arr, each, error_of, student
from compare.exercises.stand_ins import Refused, stand_in_predict, swapped
from compare.exercises.tasks import SECOND_GRADIENTS, STEP_GRADIENTS


def _params(model: Any) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate([p.detach().double().reshape(-1).numpy() for p in model.parameters()])


def _course_model(folder: str, w: np.ndarray, b: np.ndarray) -> Any:
    import torch

    model = student(folder, "model", "torch_impl").LinearRegressionModel()
    with torch.no_grad():
        model.weights.copy_(torch.from_numpy(w))
        model.bias.copy_(torch.from_numpy(b))
    return model


def probe_build(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    train = student(folder, "train", "torch_impl")

    def one(lr: float) -> dict[str, Any]:
        got = train.build(lr=lr)
        if not (isinstance(got, tuple | list) and len(got) == 3):
            raise Refused("build() must return (model, loss_fn, optimizer)")
        model, loss_fn, optimizer = got
        start = _params(model)
        # The evidence that the optimizer holds this model's parameters: one step with known
        # gradients moves them (the grader computes where to), or leaves them where they were.
        import torch

        stepped = []
        for grads in (STEP_GRADIENTS, SECOND_GRADIENTS):
            with torch.no_grad():
                for p, g in zip(model.parameters(), grads, strict=False):
                    p.grad = torch.full_like(p, g)
            optimizer.step()
            stepped.append(_params(model))
        return {
            "params": start,
            "stepped": stepped[0],
            "stepped_twice": stepped[1],
            "loss": type(loss_fn).__name__,
            "reduction": getattr(loss_fn, "reduction", None),
            "optimizer": type(optimizer).__name__,
            "lr": float(optimizer.param_groups[0]["lr"]),
        }

    return {"cases": each(folder, req["lrs"], one)}


def probe_torch_loop(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    from compare.diagnose.learner import LearnerError, record_run

    train = student(folder, "train", "torch_impl")
    swapped(train, {"predict": stand_in_predict})  # task 15's piece, so one mistake fails one task
    path = Path(str(train.__file__))
    model_class = student(folder, "model", "torch_impl").LinearRegressionModel

    def one(case: dict[str, Any]) -> dict[str, Any]:
        try:
            return record_run(case, train.fit, None, path, model_class)
        except LearnerError as e:
            if str(e).startswith("NotImplementedError"):
                raise NotImplementedError(str(e)) from None
            raise

    def single(case: dict[str, Any]) -> dict[str, Any]:
        """One train_step from a known start: what it returns, and where the parameters went."""
        import torch

        model = _course_model(folder, np.asarray(case["w"]), np.asarray(case["b"]))
        loss_fn = {"l1": torch.nn.L1Loss, "mse": torch.nn.MSELoss}[case["loss"]]()
        optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"])
        X, y = (torch.from_numpy(np.asarray(case[k])) for k in ("X", "y"))
        returned = train.train_step(model, loss_fn, optimizer, X, y)
        value = returned.detach().double().reshape(-1).numpy() if isinstance(
            returned, torch.Tensor) else arr(returned)  # fmt: skip
        return {"returned": value, "after": _params(model)}

    return {"cases": each(folder, req["cases"], one),
            "steps": each(folder, req.get("steps", []), single)}  # fmt: skip


def probe_predict(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    import torch

    train = student(folder, "train", "torch_impl")

    def one(case: dict[str, Any]) -> dict[str, Any]:
        model = _course_model(folder, case["w"], case["b"])
        model.train()  # as a training loop leaves it
        pred = train.predict(model, torch.from_numpy(case["X"]))
        # Evidence, not a self-report: the model's mode after the call, and the tensor itself
        # (made under inference_mode it is an inference tensor; under autograd it needs grad).
        after = {"training_after": bool(model.training)}
        if not isinstance(pred, torch.Tensor):
            return {"pred": arr(pred), "tensor": False, **after}
        return {"pred": pred.detach().double().numpy(), "tensor": True,
                "is_inference": pred.is_inference(), "requires_grad": pred.requires_grad,
                **after}  # fmt: skip

    return {"cases": each(folder, req["cases"], one)}


def probe_state_dict(folder: str, req: dict[str, Any]) -> dict[str, Any]:
    ck = student(folder, "checkpoint", "torch_impl")
    model = _course_model(folder, req["w"], req["b"])
    ck.save_state_dict(model, Path(req["path"]))
    fresh = _course_model(folder, -req["w"], -req["b"])
    out: dict[str, Any] = {}
    try:
        ck.load_state_dict(fresh, Path(req["path"]))
        out["loaded"] = _params(fresh)
    except NotImplementedError:
        raise
    except Exception as e:  # the saved file, or the loader, is wrong: judged as a case
        out["loaded"] = {"__error__": error_of(e, folder)}
    try:
        ck.load_state_dict(_course_model(folder, req["w"], req["b"]), Path(req["evil"]))
        out["evil"] = "loaded"
    except Exception as e:  # refused, as it should be: which error is the student's choice
        out["evil"] = type(e).__name__
    return out  # whether the hostile file's code ran, the grader sees for itself
