"""One loop's verdict: each optimizer that stepped, judged from the recording.

A loop is one torch.optim optimizer. Its steps are replayed by hand (replay.py) from the
learner's own parameters; `correct` means every recorded step is the hand-derived one and
the recording proves no catalogued mistake (mistakes.py). Where a step departs, the order of
zero_grad / backward / step and the gradient's fingerprint name the cause; when nothing
does, the first departing step is reported with its numbers, never given a name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compare.notebooks.mistakes import MISTAKES
from compare.notebooks.replay import (
    Layout,
    Stepper,
    close,
    layout_of,
    linear,
    own_gradient,
    step_close,
    written_kind,
)


@dataclass
class LoopVerdict:
    """What one loop did and what was wrong with it, in the JSON's field names."""

    cell: int | None
    model: str
    loss: str
    reduction: str
    optimizer: str
    lr: float
    epochs: int
    steps: int
    seed: int | None
    start: dict[str, Any]
    final: dict[str, Any]
    correct: bool
    first_departure: dict[str, Any] | None
    diagnosis: list[dict[str, str]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # the line the data lie on, the split
    checked_steps: int = 0
    model_name: str | None = None
    owner: int | None = None  # the trained module's id in the recording
    final_named: dict[str, list[float]] = field(default_factory=dict)  # tensor name -> values
    evidence: dict[str, Any] = field(default_factory=dict)  # predictions, save and load
    input_name: str | None = None
    forward_at: tuple[int | None, int | None] = (None, None)  # the training forward's cell, line
    trajectory: list[list[float]] = field(default_factory=list)  # [w…, b] after each step
    loss_values: list[float | None] = field(default_factory=list)  # the loss each step used

    def add(self, mistake: str, detail: str = "") -> None:
        if all(d["id"] != mistake for d in self.diagnosis):
            m = MISTAKES[mistake]
            self.diagnosis.append({"id": mistake, "message": f"{detail or m.fingerprint}: {m.fix}"})


def wb(theta: list[np.ndarray], lay: Layout) -> dict[str, Any]:
    w = [float(v) for i in lay.weights for v in theta[i]]
    return {"weight": w, "bias": float(theta[lay.bias][0]) if lay.bias is not None else None}


def train_loss(events: list[list[Any]]) -> int | None:
    """The loss this step's backward() ran on (the last one before the step)."""
    for kind, i in reversed(events):
        if kind == "backward" and i >= 0:
            return int(i)
    return None


def order_finding(events: list[list[Any]], rec: dict[str, Any], owner: int | None) -> str | None:
    """What the order of this step's calls proves: zero_grad after backward, step before it."""
    backs = [n for n, (k, _) in enumerate(events) if k == "backward"]
    zeros = [n for n, (k, _) in enumerate(events) if k == "zero_grad"]
    trains = [
        n
        for n, (k, i) in enumerate(events)
        if k == "forward" and rec["forwards"][i]["grad"] and rec["forwards"][i]["module"] == owner
    ]
    if trains and (not backs or backs[-1] < trains[-1]):
        return "step_before_backward"
    if backs and zeros and zeros[-1] > backs[-1]:
        return "zero_grad_after_backward"
    return None


def first_loss(steps: list[dict[str, Any]]) -> int | None:
    """The loss the loop trains on: the first one a backward() ran on, else the first computed."""
    for s in steps:
        i = train_loss(s["events"])
        if i is not None:
            return i
    for s in steps:
        for kind, i in s["events"]:
            if kind == "loss":
                return int(i)
    return None


def judge(loop: dict[str, Any], rec: dict[str, Any]) -> LoopVerdict:
    """The verdict on one optimizer's loop."""
    modules = rec["modules"]
    forwards, losses, arrays = rec["forwards"], rec["losses"], rec["arrays"]
    steps = loop["steps"]
    held = set(loop["params"])
    holder: dict[str, Any] = next(
        (info for info in modules.values() if set(info["params"]) == held), {}
    )
    # The trained module: the one whose output fed this loop's loss.
    i0 = first_loss(steps)
    owner = forwards[losses[i0]["forward"]]["module"] if i0 is not None else None
    info = modules.get(str(owner), holder) if owner is not None else holder
    names_of = dict(zip(holder.get("params", []), holder.get("param_names", []), strict=False))
    names = [names_of.get(p, f"param{n}") for n, p in enumerate(loop["params"])]
    lay = layout_of(names, loop["shapes"])
    final_named = {
        n: [float(x) for x in t] for n, t in zip(names, loop.get("last") or [], strict=False)
    }
    first = steps[0] if steps else None
    last = loop.get("last") or (first["before"] if first else [])
    hyper0 = first["hyper"][0] if first else {}
    v = LoopVerdict(
        cell=loop["cell"],
        model=info.get("class", "?"),
        loss="?",
        reduction="?",
        optimizer=loop["optimizer"].lower(),
        lr=float(hyper0.get("lr", math.nan)),
        epochs=loop["total_steps"],
        steps=loop["total_steps"],
        seed=seed_before(rec, info.get("created")),
        start=wb(first["before"], lay) if first else {},
        final=wb(last, lay) if last else {},
        correct=False,
        first_departure=None,
        model_name=info.get("name"),
        owner=owner,
        final_named=final_named,
    )
    if i0 is not None:
        loss, fwd = losses[i0], forwards[losses[i0]["forward"]]
        X, target = arrays[fwd["input"]], arrays[loss["target"]]
        v.loss, v.reduction, v.input_name = describe(loss, fwd, target)
        v.forward_at = (fwd["cell"], fwd["line"])
        data_of(v, rec, loop, fwd, loss, X, target)
    if owner is not None and not held & set(info.get("params", [])):
        v.add(
            "wrong_parameters",
            f"{v.optimizer} steps tensors that {info.get('name') or v.model} "
            "does not own, so the model never moves",
        )
        return v
    seeds(v, rec, info)
    stepper = Stepper(loop["optimizer"])
    accumulated: list[np.ndarray] | None = None
    train_rows: set[int] = set()
    for k, s in enumerate(steps):
        i = train_loss(s["events"])
        found = order_finding(s["events"], rec, owner)
        zeroed = any(e[0] == "zero_grad" for e in s["events"])
        if i is None or found == "step_before_backward":
            v.add(found or "no_backward")
            if k > 0 or not found:
                v.first_departure = {
                    "epoch": k,
                    "what": "call order",
                    "parameter": "all",
                    "learner": None,
                    "reference": None,
                }
                break
            stepper.predict(s["hyper"][0], s["before"], s["grads"])
            continue
        loss, fwd = losses[i], forwards[losses[i]["forward"]]
        X, target = arrays[fwd["input"]], arrays[loss["target"]]
        kind, reduction, _ = describe(loss, fwd, target)
        train_rows.add(fwd["input"])
        rows = fwd["pred_shape"][0] if fwd["pred_shape"] else 1
        try:
            own, tols = own_gradient(
                X,
                s["before"],
                lay,
                fwd["pred_shape"],
                target,
                kind,
                reduction,
                float(loss.get("delta", loss.get("beta", 1.0))),
            )
            if fwd["pred"] is not None:
                _, mine = linear(X, s["before"], lay, rows)
                if not np.allclose(
                    mine.reshape(-1), np.asarray(fwd["pred"]).reshape(-1), rtol=1e-4, atol=1e-5
                ):
                    raise ValueError("not linear")
        except (ValueError, KeyError):
            v.add("not_linear")
            return v
        per_step_findings(v, fwd, loss)
        accumulated = (
            own
            if (zeroed or accumulated is None)
            else [a + o for a, o in zip(accumulated, own, strict=True)]
        )
        if not close(s["grads"], own, tols):
            if found:
                v.add(found)
            elif (
                not zeroed and k > 0 and close(s["grads"], accumulated, [t * (k + 1) for t in tols])
            ):
                v.add("no_zero_grad")
            else:
                v.add("unknown_step", f"step {k}'s gradient is not the hand-derived one")
            v.first_departure = departure(k, "gradient", names, s["grads"], own)
            break
        predicted = stepper.predict(s["hyper"][0], s["before"], s["grads"])
        if predicted is not None and not step_close(predicted, s["after"]):
            v.first_departure = departure(k, "step", names, s["after"], predicted)
            v.add("unknown_step", f"step {k} is not {loop['optimizer']}'s step from its gradient")
            break
        v.checked_steps = k + 1
    v.trajectory = [
        [*wb(s["after"], lay)["weight"], wb(s["after"], lay)["bias"] or 0.0] for s in steps
    ]
    v.loss_values = [
        losses[i].get("value") if (i := train_loss(s["events"])) is not None else None
        for s in steps
    ]
    blown(v, steps)
    tests(v, rec, loop, owner, train_rows)
    epochs_of(v, loop)
    v.correct = not v.diagnosis and v.checked_steps == len(steps) and bool(steps)
    return v


def describe(
    loss: dict[str, Any], fwd: dict[str, Any], target: np.ndarray
) -> tuple[str, str, str | None]:
    """(loss kind, reduction, the name of the batch) of a loss record."""
    kind, reduction = loss["kind"], loss.get("reduction", "mean")
    if kind == "written" and fwd["pred"] is not None:
        kind, reduction = written_kind(
            loss.get("value"), np.asarray(fwd["pred"]).reshape(fwd["pred_shape"]), target
        )
    return kind, reduction, fwd["input_name"]


def epochs_of(v: LoopVerdict, loop: dict[str, Any]) -> None:
    """Full batch: one step an epoch. A DataLoader: the passes over it during the loop."""
    steps = loop["steps"]
    if not steps or not steps[0].get("passes"):
        return
    passes = steps[-1]["passes"] - steps[0]["passes"] + 1
    if v.steps > passes:
        v.epochs = round(passes * v.steps / len(steps))
        v.data["train_points"] = int(steps[-1]["loader_size"])
        if v.data.get("test_points"):
            total = v.data["train_points"] + v.data["test_points"]
            v.data["points"], v.data["split"] = total, v.data["train_points"] / total


def per_step_findings(v: LoopVerdict, fwd: dict[str, Any], loss: dict[str, Any]) -> None:
    if not fwd["training"]:
        v.add("eval_in_training", "model.eval() is in force at the training forward")
    if loss.get("reduction") == "sum" or v.reduction == "sum":
        v.add("sum_reduction")
    shape, tshape = fwd["pred_shape"], loss.get("target_shape")
    if tshape is not None and list(shape) != list(tshape):
        big = math.prod(np.broadcast_shapes(tuple(shape), tuple(tshape)))
        if big > math.prod(shape):
            grid = " × ".join(map(str, np.broadcast_shapes(tuple(shape), tuple(tshape))))
            v.add(
                "broadcast_shape",
                f"ŷ has shape {tuple(shape)} and y {tuple(tshape)}, so the loss averages a "
                f"{grid} matrix",
            )
    names = " ".join(str(n) for n in (fwd["input_name"], loss.get("target_name")) if n)
    if "test" in names.lower():
        v.add("trained_on_test", f"the training step fits {names}")


def seed_before(rec: dict[str, Any], created: int | None) -> int | None:
    torch_seeds = [s for s in rec["seeds"] if s["kind"] == "torch"]
    before = [s for s in torch_seeds if created is None or s["clock"] < created]
    return int(before[-1]["seed"]) if before else None


def seeds(v: LoopVerdict, rec: dict[str, Any], info: dict[str, Any]) -> None:
    created = info.get("created")
    if created is None:
        return
    torch_seeds = [s for s in rec["seeds"] if s["kind"] == "torch"]
    if any(s["clock"] < created for s in torch_seeds):
        return
    if torch_seeds:
        v.add(
            "seed_after_model",
            f"torch.manual_seed is called in cell {torch_seeds[0]['cell']}, "
            f"after {info.get('name') or v.model} was built",
        )
    elif any(s["kind"] == "cuda" for s in rec["seeds"]):
        v.add("no_seed", "only torch.cuda's seed is set, and it seeds the GPU alone")
    else:
        v.add("no_seed")


def blown(v: LoopVerdict, steps: list[dict[str, Any]]) -> None:
    for k, s in enumerate(steps):
        after = np.concatenate(s["after"]) if s.get("after") else np.zeros(0)
        with np.errstate(invalid="ignore"):
            if not np.all(np.isfinite(after) & (np.abs(after) < 1e6)):
                v.add(
                    "lr_too_large",
                    f"the run diverged at epoch {k}: lr {v.lr:g} is too large "
                    "for this loss and data",
                )
                return


def tests(
    v: LoopVerdict,
    rec: dict[str, Any],
    loop: dict[str, Any],
    owner: int | None,
    train_rows: set[int],
) -> None:
    """The loop's test passes: forwards of its model that no backward() used, with a loss."""
    forwards, arrays = rec["forwards"], rec["arrays"]
    start = loop["first_clock"]
    for loss in rec["losses"]:
        fwd = forwards[loss["forward"]]
        if fwd["module"] != owner or fwd["backward"] or fwd["clock"] < start:
            continue
        if loss["grad"] and fwd["grad"] and not fwd["inference"]:
            v.add(
                "test_with_grad",
                f"cell {loss['cell']} line {loss['line']} computes a test loss with autograd on",
            )
        x = fwd["input"]
        same = x in train_rows or any(
            x is not None
            and arrays[x].shape == arrays[t].shape
            and np.array_equal(arrays[x], arrays[t])
            for t in train_rows
        )
        if same and "test" not in str(fwd["input_name"] or "").lower():
            v.add(
                "test_on_train",
                f"cell {loss['cell']} line {loss['line']} tests on the data the model trains on",
            )
        elif x is not None and "test_points" not in v.data:
            v.data["test_points"] = int(arrays[x].shape[0])
            if v.data.get("train_points"):
                total = v.data["train_points"] + v.data["test_points"]
                v.data["points"], v.data["split"] = total, v.data["train_points"] / total


def data_of(
    v: LoopVerdict,
    rec: dict[str, Any],
    loop: dict[str, Any],
    fwd: dict[str, Any],
    loss: dict[str, Any],
    X: np.ndarray,
    target: np.ndarray,
) -> None:
    """The line the training data lie on (a least-squares fit, exact when there is no noise)."""
    rows = X.shape[0] if X.ndim else 1
    x, y = X.reshape(rows, -1), target.reshape(-1)
    v.data["train_points"] = int(rows)
    if x.shape[1] == 1 and y.size == rows and rows >= 2:
        A = np.column_stack([x[:, 0], np.ones(rows)])
        (slope, intercept), *_ = np.linalg.lstsq(A, y, rcond=None)
        spread = float(np.max(np.abs(A @ [slope, intercept] - y)))
        v.data["line"] = {"weight": float(slope), "bias": float(intercept), "max_residual": spread}


def departure(
    k: int, what: str, names: list[str], got: list[Any], expected: list[np.ndarray]
) -> dict[str, Any]:
    """The first entry that departs at step k: which tensor, and both values."""
    for n, (g, e) in enumerate(zip(got, expected, strict=True)):
        if g is None:  # no .grad at all: torch skipped the tensor
            return {
                "epoch": k,
                "what": what,
                "parameter": names[n],
                "learner": None,
                "reference": float(np.asarray(e).reshape(-1)[0]),
            }
        diff = np.abs(np.asarray(g) - e)
        if diff.size and not np.all(diff == 0):
            j = int(np.argmax(np.where(np.isnan(diff), np.inf, diff)))
            return {
                "epoch": k,
                "what": what,
                "parameter": names[n],
                "learner": float(np.asarray(g).reshape(-1)[j]),
                "reference": float(e.reshape(-1)[j]),
            }
    return {
        "epoch": k,
        "what": what,
        "parameter": "all",
        "learner": math.nan,
        "reference": math.nan,
    }
