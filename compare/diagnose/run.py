"""`gradcompare diagnose FILE.py`: run a learner's own torch loop and name the mistake in it.

The learner's train() runs in a sandboxed child (learner.py) from the course's data and the
course's start. Its parameter path is then replayed step by step with the hand-derived step:
first as it should be, then under each catalogued mistake (catalogue.py). A mistake is named
only when its replay predicts every step the learner took; where two predict the same path,
what the child recorded (the optimizer's tensors, the loss's reduction, the order of calls)
decides. A departure nothing explains is reported as such, with its epoch, never given a name.
"""

from __future__ import annotations

import ast
import html
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compare.closed_form import mse_stable_lr
from compare.config import CLASSIC_OPTIMIZERS, LOSS_NAMES
from compare.diagnose.catalogue import CATALOGUE, SIMULATED, Data, diverged, replay, step_matches
from compare.sandbox import Limits, run_child
from manual.gradients import gradients
from manual.losses import LOSSES
from manual.optim import SGD, Adam, Optimizer, init_state, step

OPTIMIZERS = CLASSIC_OPTIMIZERS  # the replay knows SGD and Adam/AdamW


class DiagnoseError(ValueError):
    """The file cannot be diagnosed as it stands; one line says why and where."""


@dataclass(frozen=True)
class Settings:
    """What the learner's loop is checked against; the defaults are the chapter's."""

    epochs: int = 100  # passed to train(); the reference runs as many full-batch steps
    lr: float = 0.01  # the learning rate the reference (and the default optimizer) uses
    loss: str = "l1"  # l1 | mse | huber: the default loss_fn and the reference's loss
    optimizer: str = "sgd"  # sgd | adam | adamw: the default optimizer and the reference's

    def __post_init__(self) -> None:
        if not 1 <= self.epochs <= 100_000:
            raise DiagnoseError(f"--epochs is {self.epochs}; use 1 to 100000")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise DiagnoseError(f"--lr is {self.lr}; give a learning rate > 0")
        if self.loss not in LOSS_NAMES:
            raise DiagnoseError(f"--loss {self.loss!r}: choose one of {', '.join(LOSS_NAMES)}")
        if self.optimizer not in OPTIMIZERS:
            raise DiagnoseError(f"--optimizer {self.optimizer!r}: choose sgd, adam or adamw")

    def options(self, lr: float | None = None) -> Optimizer:
        """The hand-derived optimizer with torch's defaults and this lr."""
        if self.optimizer == "sgd":
            return SGD(lr=lr or self.lr)
        return Adam(
            lr=lr or self.lr,
            decoupled=self.optimizer == "adamw",
            weight_decay=0.01 if self.optimizer == "adamw" else 0.0,
        )


@dataclass(frozen=True)
class Finding:
    """One named mistake or warning."""

    id: str  # a CATALOGUE id
    message: str  # one line for the learner


def finding(mistake: str, **details: object) -> Finding:
    """The catalogue's message for `mistake`, with this run's details filled in."""
    return Finding(mistake, CATALOGUE[mistake].message.format(**details))


@dataclass
class Diagnosis:
    """What the learner's loop did, and what (if anything) is wrong with it."""

    file: str  # the learner's file
    settings: Settings  # what it was checked against
    correct: bool  # the path is the hand-derived one, from seed 42, for every epoch
    first_departure: dict[str, Any] | None  # epoch, parameter, learner, reference
    diagnosis: list[Finding] = field(default_factory=list)  # mistakes, most likely first
    warnings: list[Finding] = field(default_factory=list)  # harmless here, worth fixing
    learner_path: np.ndarray = field(default_factory=lambda: np.empty((0, 2)), repr=False)
    reference_path: np.ndarray = field(default_factory=lambda: np.empty((0, 2)), repr=False)
    data: Data | None = field(default=None, repr=False)

    def lines(self) -> list[str]:
        """What the command prints."""
        head = (
            f"{Path(self.file).name}: {self.settings.loss} loss, {self.settings.optimizer} "
            f"lr={self.settings.lr:g}, {self.settings.epochs} epochs"
        )
        out = [head]
        if self.correct:
            out.append("CORRECT: every step is the hand-derived step, from seed 42's start")
        for f in self.diagnosis:
            out.append(f"MISTAKE {f.id}: {f.message}")
        if not self.correct and not self.diagnosis and self.first_departure is not None:
            d = self.first_departure
            out.append(
                f"UNKNOWN: the run departs at epoch {d['epoch']} ({d['parameter']}: "
                f"{d['learner']:.6g}, expected {d['reference']:.6g}); this is not a mistake "
                "the catalogue knows"
            )
        for f in self.warnings:
            out.append(f"warning {f.id}: {f.message}")
        return out

    def as_json(self) -> dict[str, Any]:
        """correct, first_departure, diagnosis, warnings, settings."""
        return {
            "file": self.file,
            "correct": self.correct,
            "first_departure": self.first_departure,
            "diagnosis": [asdict(f) for f in self.diagnosis],
            "warnings": [asdict(f) for f in self.warnings],
            "settings": asdict(self.settings),
        }

    def _repr_html_(self) -> str:
        color = "#1b5e20" if self.correct else "#b71c1c"
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines()[1:])
        return f"<p style='color:{color}'><b>{html.escape(self.lines()[0])}</b></p><ul>{items}</ul>"


# --------------------------------------------------------------------------------- running


def course_data() -> Data:
    """The chapter's cells, in torch: X = arange(0, 1, 0.02), y = 0.7·X + 0.3, 80/20."""
    X = torch.arange(0, 1, 0.02).unsqueeze(dim=1)
    y = 0.7 * X + 0.3
    n = int(0.8 * len(X))
    return Data(X[:n].numpy(), y[:n].numpy(), X[n:].numpy(), y[n:].numpy())


def check_file(path: Path) -> None:
    """A readable .py file that parses and defines train(); else one line saying what to fix."""
    if not path.exists():
        raise DiagnoseError(f"{path}: no such file")
    if not path.is_file():
        raise DiagnoseError(f"{path}: not a file; give the .py file that defines train()")
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as e:
        raise DiagnoseError(f"{path}: SyntaxError at line {e.lineno}: {e.msg}") from None
    except (ValueError, OSError) as e:
        raise DiagnoseError(f"{path}: cannot read it as Python ({e})") from None
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    names |= {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    if "train" not in names:
        raise DiagnoseError(
            f"{path}: defines no train(model, loss_fn, optimizer, X_train, y_train, X_test, "
            "y_test, epochs); write the course's loop as that function"
        )


def diagnose(
    path: Path, settings: Settings | None = None, limits: Limits | None = None
) -> Diagnosis:
    """Run the learner's loop in a sandbox and diagnose its parameter path."""
    settings = settings or Settings()
    check_file(path)
    data = course_data()
    request = {"file": str(path.resolve()), **asdict(settings), **asdict(data)}
    child = run_child(
        path.resolve().parent, request, limits or Limits(), entry="compare.diagnose.learner"
    )
    if child.answer is None:
        raise DiagnoseError(f"{path}: {child.failure}")
    if "error" in child.answer:
        raise DiagnoseError(f"{path}: {child.answer['error']}")
    return analyse(str(path), settings, data, child.answer["ok"])


def open_loop(data: Data, start: np.ndarray, settings: Settings, steps: int) -> np.ndarray:
    """The hand-derived run from `start`: (steps + 1, d + 1), the start first."""
    X, y = data.X_train.astype(np.float64), data.y_train.astype(np.float64)
    w, b = start[:-1].astype(np.float64), start[-1:].astype(np.float64)
    opt = settings.options()
    state = init_state(opt, (w, b))
    path = [start.astype(np.float64)]
    with np.errstate(all="ignore"):
        for _ in range(steps):
            _, dw, db = gradients(X, y, w, b, LOSSES[settings.loss])
            (w, b), state = step((w, b), (dw, db), state, opt)
            path.append(np.concatenate([w, b]))
    return np.array(path)


def analyse(file: str, settings: Settings, data: Data, rec: dict[str, Any]) -> Diagnosis:
    """Compare the recording with the hand-derived path, and name what explains the gap."""
    start = np.asarray(rec["start"], dtype=np.float64)
    steps = np.asarray(rec["steps"], dtype=np.float64).reshape(-1, start.size)
    if start.size != data.X_train.shape[1] + 1:
        raise DiagnoseError(
            f"{file}: the model has {start.size} parameters; diagnose checks "
            "the course's linear model (one weight and a bias)"
        )
    path = np.vstack([start, steps])
    reference = open_loop(data, start, settings, settings.epochs)
    result = Diagnosis(
        file, settings, False, None, learner_path=path, data=data, reference_path=reference
    )
    result.warnings = warnings_of(rec)
    found: list[Finding] = []
    seed42 = rec.get("seed42_start")
    if seed42 is not None and not np.allclose(np.asarray(seed42), start, rtol=0, atol=1e-7):
        found.append(finding("no_seed", start=_fmt(start), seed42=_fmt(np.asarray(seed42))))
    K, E = len(steps), settings.epochs
    seen = seen_gradients(rec, len(steps), start.size)
    predicted = replay("reference", path, data, settings.loss, settings.options(), seen)
    ok = step_matches(predicted, path)
    blow_up = diverged(path)
    if K and ok.all():
        if K != E:
            found.append(finding("wrong_epochs", steps=K, epochs=E))
        if blow_up is not None:
            found.append(too_large(settings.lr, settings, data, blow_up))
        result.diagnosis = found
        result.correct = not found
        return result
    nothing = {"epoch": 0, "parameter": "all", "learner": math.nan, "reference": math.nan}
    result.first_departure = departure(path, predicted, int(np.argmin(ok))) if K else nothing
    lr_used = recovered_lr(path, rec, settings)
    found += simulated(path, data, settings, rec, lr_used, seen)
    ids = {f.id for f in found}
    if blow_up is not None and ids & {"wrong_lr", "sum_reduction"}:
        lr = lr_used if "wrong_lr" in ids and lr_used is not None else settings.lr
        found.insert(0, too_large(lr, settings, data, blow_up))
    result.diagnosis = found
    return result


def simulated(
    path: np.ndarray,
    data: Data,
    settings: Settings,
    rec: dict[str, Any],
    lr: float | None,
    seen: np.ndarray,
) -> list[Finding]:
    """The catalogued mistakes whose replay predicts every step, instrumentation deciding ties."""
    K = len(path) - 1
    opt = settings.options()
    fits = {
        kind
        for kind in SIMULATED
        if step_matches(replay(kind, path, data, settings.loss, opt), path).all()
    }
    moved = K > 0 and not np.allclose(path[1:], path[0], rtol=0, atol=1e-12)
    found: list[Finding] = []
    if not moved and not rec.get("holds_any_model_param", True):
        found.append(finding("wrong_parameters"))
        fits.discard("zero_grad_after_backward")
    if "zero_grad_after_backward" in fits:
        # Nothing moved with the right tensors: no gradient reached step(). The call order
        # says whether zero_grad() wiped it after backward(), or step() ran before backward().
        events = [e[0] for e in rec.get("events", []) if e[0] != "zero_grad"]
        first = events.index("step") if "step" in events else -1
        stepped_first = first >= 0 and "backward" not in events[:first]
        found.append(
            finding(
                "step_before_backward"
                if stepped_first and "step_before_backward" not in fits
                else "zero_grad_after_backward"
            )
        )
    for kind in ("step_before_backward", "no_zero_grad"):
        if kind in fits:
            found.append(finding(kind))
    if "sum_reduction" in fits:
        how = "reduction='sum'" if rec.get("reduction") == "sum" else "by hand"
        found.append(finding("sum_reduction", how=how, n=len(data.X_train)))
    if "trained_on_test" in fits:
        found.append(finding(which_test_split_mistake(rec)))
    if lr is not None and not math.isclose(lr, settings.lr, rel_tol=1e-3):
        replayed = replay("reference", path, data, settings.loss, settings.options(lr), seen)
        if step_matches(replayed, path).all():
            found.append(finding("wrong_lr", lr=lr, expected=settings.lr))
    return found


def seen_gradients(rec: dict[str, Any], steps: int, size: int) -> np.ndarray:
    """(steps, size): the gradient each recorded step saw, NaN where a parameter had none."""
    out = np.full((steps, size), np.nan)
    for k, gs in enumerate(rec.get("grads", [])[:steps]):
        if gs and all(g is not None for g in gs):
            flat = np.concatenate([np.asarray(g, dtype=np.float64).reshape(-1) for g in gs])
            if flat.size == size:
                out[k] = flat
    return out


def which_test_split_mistake(rec: dict[str, Any]) -> str:
    """Both follow the test split's gradient; backward on a test loss beside a train loss tells."""
    calls = rec.get("loss_calls", [])
    losses = [e[2] for e in rec.get("events", []) if e[0] == "backward"]
    on_test = any(i is not None and i < len(calls) and calls[i]["split"] == "test" for i in losses)
    train_with_grad = any(c["split"] == "train" and c["grad"] for c in calls)
    return "backward_on_test_loss" if on_test and train_with_grad else "trained_on_test"


def recovered_lr(path: np.ndarray, rec: dict[str, Any], settings: Settings) -> float | None:
    """The lr the learner's first moving SGD step implies (Δθ = -lr·g), or the optimizer's own."""
    grads = rec.get("grads", [])
    for k in range(min(len(grads), len(path) - 1)):
        gs = grads[k]
        if not gs or any(g is None for g in gs):
            continue
        g = np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1) for x in gs])
        delta = path[k] - path[k + 1]
        mask = np.abs(g) > 1e-12
        if settings.optimizer == "sgd" and mask.any() and np.abs(delta).max() > 0:
            return float(np.median(delta[mask] / g[mask]))
        break
    lrs = rec.get("lr") or []
    return float(lrs[0]) if lrs and math.isfinite(lrs[0]) else None


def too_large(lr: float, settings: Settings, data: Data, epoch: int) -> Finding:
    """lr_too_large, with the hand-computed stable limit for MSE and plain SGD."""
    limit = ""
    if settings.loss == "mse" and settings.optimizer == "sgd":
        bound = mse_stable_lr(data.X_train)
        limit = (f": it is above the stable limit {bound:.4g} = 2/λ_max of the MSE Hessian "
                 f"(2/N)·[X 1]ᵀ[X 1]; use lr < {bound:.4g}")  # fmt: skip
    return finding("lr_too_large", epoch=epoch, lr=lr, limit=limit)


def warnings_of(rec: dict[str, Any]) -> list[Finding]:
    """How the test loss was computed: with autograd on, or in train mode."""
    tests = [c for c in rec.get("loss_calls", []) if c["split"] == "test"]
    out = []
    if any(c["grad"] for c in tests):
        out.append(finding("test_with_grad"))
    if any(c["training"] for c in tests):
        out.append(finding("test_in_train_mode"))
    return out


def departure(path: np.ndarray, predicted_path: np.ndarray, k: int) -> dict[str, Any]:
    """Where the learner's step k first differs from the hand-derived step from the same θ_k.

    predicted_path: the reference replay of the whole path (catalogue.replay), row k = θ_{k+1}.
    """
    predicted = predicted_path[k]
    taken = path[k + 1]
    with np.errstate(invalid="ignore"):
        gap = np.where(np.isfinite(taken), np.abs(taken - predicted), np.inf)
    j = int(np.argmax(gap))
    name = "b" if j == path.shape[1] - 1 else f"w[{j}]"
    return {
        "epoch": k,
        "parameter": name,
        "learner": float(taken[j]),
        "reference": float(predicted[j]),
    }


def _fmt(theta: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in theta) + ")"
