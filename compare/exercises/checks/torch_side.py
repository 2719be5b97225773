"""Tasks 13-15: the course's model, loss and optimizer, its loop and its inference, in torch."""

from __future__ import annotations

import math
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
    judged,
    seeded,
)
from compare.exercises.tasks import SECOND_GRADIENTS, STEP_GRADIENTS

# ------------------------------------------------------------ the torch side (tasks 13-16)


def _seed42_start() -> np.ndarray:
    # A generator of its own, seeded as torch.manual_seed(42) seeds the global one (the same
    # numbers): a batch grades students on threads, and the global generator is shared.
    seeded = torch.Generator().manual_seed(42)
    w, b = torch.randn(1, generator=seeded), torch.randn(1, generator=seeded)
    return np.concatenate([w.double().numpy(), b.double().numpy()])


def build_build(rng: np.random.Generator) -> Plan:
    lrs = [0.01, round(float(rng.uniform(0.02, 0.5)), 4)]
    return Plan({"lrs": lrs}, {"lrs": lrs, "start": _seed42_start()})


def judge_build(answer: dict[str, Any], plan: Plan) -> list[Case]:
    lrs, start = plan.expected["lrs"], plan.expected["start"]
    got = answer_cases(answer, len(lrs), "build")

    def check(mine: dict[str, Any], lr: float) -> float:
        d = expect_close(mine["params"], start, "the starting (weights, bias)")
        if (mine["loss"], mine["reduction"]) != ("L1Loss", "mean"):
            raise Fail(
                f"loss_fn is {mine['loss']}(reduction={mine['reduction']!r})",
                hint="the chapter's loss is nn.L1Loss(), mean reduction",
            )
        if mine["optimizer"] != "SGD" or not math.isclose(mine["lr"], lr):
            raise Fail(
                f"the optimizer is {mine['optimizer']}(lr={mine['lr']:g}), asked for "
                f"SGD(lr={lr:g})",
                hint="torch.optim.SGD(params=..., lr=lr)",
            )
        moved = start - lr * np.array(STEP_GRADIENTS)
        if not np.allclose(np.asarray(mine["stepped"], dtype=np.float64), moved, rtol=1e-6,
                           atol=1e-7):  # fmt: skip
            raise Fail(
                "one optimizer.step() with known gradients did not move this model's "
                "parameters by -lr·g: the optimizer does not hold them",
                hint="build the optimizer over model.parameters() of the model returned",
            )
        g1, g2 = np.array(STEP_GRADIENTS), np.array(SECOND_GRADIENTS)
        twice = np.asarray(mine["stepped_twice"], dtype=np.float64)
        if not np.allclose(twice, moved - lr * g2, rtol=1e-6, atol=1e-7):
            # Momentum μ moves the second step by -lr·(g2 + μ·g1): name it only if that fits.
            mu = (moved - lr * g2 - twice) / (lr * g1)
            hint = "torch.optim.SGD(params=model.parameters(), lr=lr), no other option"
            if np.allclose(mu, mu[0], rtol=1e-4) and mu[0] > 1e-6:
                hint = f"momentum={float(mu[0]):.3g}: the chapter's SGD has none"
            raise Fail(
                "a second optimizer.step() with known gradients did not move the parameters "
                "by -lr·g again: the optimizer is not plain SGD(lr)",
                float(np.max(np.abs(twice - (moved - lr * g2)))),
                hint,
            )
        return d

    out = []
    for lr, mine in zip(lrs, got, strict=True):
        case = judged(f"lr={lr:g}", partial(check, mine, lr), mine)
        if not case.passed and "starting" in case.message:
            case.hint = "call torch.manual_seed(42) just before LinearRegressionModel()"
        out.append(case)
    return out


def build_torch_loop(rng: np.random.Generator) -> Plan:
    from compare.diagnose.run import Settings, course_data

    data = course_data()
    settings = [
        Settings(epochs=int(rng.integers(20, 60))),
        Settings(epochs=int(rng.integers(20, 60)), lr=0.05, loss="mse"),
        Settings(epochs=int(rng.integers(10, 30)), lr=0.05, optimizer="adam"),
    ]
    shared = {k: getattr(data, k) for k in ("X_train", "y_train", "X_test", "y_test")}
    cases = [{**shared, "epochs": s.epochs, "lr": s.lr, "loss": s.loss,
              "optimizer": s.optimizer} for s in settings]  # fmt: skip
    # One step from a drawn start: train_step must return the loss from *before* the update.
    steps, refs = [], []
    for loss in ("l1", "mse"):
        w, b = seeded(rng, (1,), "float32"), seeded(rng, (1,), "float32")
        X, y = data.X_train, data.y_train
        wt, bt = as_tensor(w, grad=True), as_tensor(b, grad=True)
        value = TORCH_LOSSES[loss]()(as_tensor(X) @ wt[:, None] + bt, as_tensor(y))
        value.backward()
        torch.optim.SGD([wt, bt], lr=0.05).step()
        steps.append({"w": w, "b": b, "loss": loss, "lr": 0.05, "X": X, "y": y})
        refs.append((value.item(), np.concatenate([wt.detach().numpy(), bt.detach().numpy()])))
    return Plan({"cases": cases, "steps": steps},
                {"settings": settings, "data": data, "steps": refs})  # fmt: skip


def judge_torch_loop(answer: dict[str, Any], plan: Plan) -> list[Case]:
    from compare.diagnose.run import DiagnoseError, analyse

    settings, data = plan.expected["settings"], plan.expected["data"]
    got = answer_cases(answer, len(settings), "fit")
    refs = plan.expected["steps"]
    mine_steps = answer_cases({"cases": answer.get("steps")}, len(refs), "train_step")
    steps = [  # judged after the loops: a wrong loop's diagnosis is the line to show first
        judged(f"returns the loss before the step ({i + 1})", partial(_one_step, mine, ref), mine)
        for i, (mine, ref) in enumerate(zip(mine_steps, refs, strict=True))
    ]
    out: list[Case] = []
    for s, rec in zip(settings, got, strict=True):
        name = f"{s.loss}, {s.optimizer} lr={s.lr:g}, {s.epochs} epochs"
        if isinstance(rec, dict) and "__error__" in rec:
            out.append(judged(name, lambda: 0.0, rec))
            continue
        try:
            diagnosis = analyse("your loop", s, data, rec)
        except DiagnoseError as e:
            out.append(Case(name, False, None, str(e), ""))
            continue
        if diagnosis.correct:
            out.append(Case(name, True, 0.0))
        elif diagnosis.diagnosis:
            first = diagnosis.diagnosis[0]
            out.append(Case(name, False, None, f"{first.id}: {first.message}", ""))
        else:
            d = diagnosis.first_departure or {}
            out.append(
                Case(
                    name,
                    False,
                    None,
                    f"the run departs from torch's at epoch {d.get('epoch')}",
                    "forward, loss, zero_grad, backward, step",
                )
            )
    return out + steps


def _one_step(mine: dict[str, Any], ref: tuple[float, np.ndarray]) -> float:
    """train_step's return value is the loss before the update, and the update is SGD's."""
    before, after = ref
    returned = np.asarray(mine.get("returned"), dtype=object)
    if returned.size != 1 or not isinstance(returned.reshape(-1)[0], float | np.floating):
        raise Fail(
            f"train_step returned {mine.get('returned')!r}, not the loss",
            hint="return loss.detach(): the loss computed before optimizer.step()",
        )
    value = float(returned.reshape(-1)[0])
    if abs(value - before) > 1e-6 * max(1.0, abs(before)):
        raise Fail(
            f"train_step returned {value:.6f}; the loss before the step is {before:.6f}",
            hint="return the loss from step 2, computed before optimizer.step()",
        )
    return expect_close(mine["after"], after, "parameters after one step", "float32")


def build_predict(rng: np.random.Generator) -> Plan:
    cases, refs = [], []
    for _ in range(3):
        w, b = seeded(rng, (1,), "float32"), seeded(rng, (1,), "float32")
        X = rng.uniform(-1, 1, (int(rng.integers(3, 20)), 1)).astype(np.float32)
        cases.append({"w": w, "b": b, "X": X})
        refs.append((as_tensor(X) * as_tensor(w) + as_tensor(b)).double().numpy())
    return Plan({"cases": cases}, {"refs": refs})


def judge_predict(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs = plan.expected["refs"]
    got = answer_cases(answer, len(refs), "predict")

    def check(mine: dict[str, Any], ref: np.ndarray) -> float:
        if mine.get("tensor") is not True:
            raise Fail("predict returned no tensor", hint="return model(X), a torch.Tensor")
        d = expect_close(mine["pred"], ref, "ŷ", "float32")
        if mine.get("training_after") is not False:
            raise Fail("the model is still in train mode", hint="call model.eval() first")
        if mine.get("is_inference") is not True:
            raise Fail(
                "ŷ was not made under inference_mode ("
                + ("it carries an autograd graph)" if mine.get("requires_grad") else "no_grad?)"),
                hint="run it inside `with torch.inference_mode():`",
            )
        return d

    return [judged(f"N={len(r)}", partial(check, g, r), g) for g, r in zip(got, refs, strict=True)]
