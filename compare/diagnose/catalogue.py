"""The mistakes a diagnosis can name, and how each one moves the parameters.

Each simulated mistake is a change to one hand-derived step (manual/gradients.py and
manual/optim/). The learner's trajectory is replayed one step at a time: from the learner's
own θ_k, what would θ_{k+1} be under this mistake? A mistake is named only when every step
it predicts is the step the learner took, so a chaotic run cannot hide or fake a match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from manual.gradients import gradients
from manual.losses import LOSSES
from manual.optim import Optimizer, OptimizerState, init_state, step


@dataclass(frozen=True)
class Mistake:
    """One catalogued mistake: its stable id, what it is, and what it leaves behind."""

    id: str  # stable, for --json and for tests
    title: str  # a few words
    fingerprint: str  # what the parameter trajectory shows
    message: str  # the one line a learner reads; {placeholders} filled in by the diagnosis
    warning: bool = False  # numbers unaffected: reported, but the run still counts as correct


CATALOGUE = {
    m.id: m
    for m in (
        Mistake(
            "no_zero_grad", "gradients never zeroed",
            "each step adds this epoch's gradient to all earlier ones: the steps grow",
            "optimizer.zero_grad() is never called, so gradients accumulate: each step adds "
            "this epoch's gradient to every earlier one. Call it before loss.backward()",
        ),
        Mistake(
            "zero_grad_after_backward", "zero_grad between backward and step",
            "every step sees zero gradients: the parameters never move",
            "optimizer.zero_grad() runs between loss.backward() and optimizer.step(), so every "
            "step sees no gradient and nothing moves: zero the gradients before backward()",
        ),
        Mistake(
            "step_before_backward", "step before backward",
            "the first step does nothing, then each step uses the previous epoch's gradient",
            "optimizer.step() runs before loss.backward(), so each step uses the previous "
            "epoch's gradient (and the first does nothing): backward() first, then step()",
        ),
        Mistake(
            "wrong_parameters", "the optimizer holds another model's parameters",
            "the model's parameters never move, though the optimizer steps",
            "the optimizer holds tensors that are not this model's parameters (built over "
            "another model?), so the model never moves: pass this model's parameters()",
        ),
        Mistake(
            "sum_reduction", "a summed loss",
            "every step is N times too long (N = 40): it overshoots, and MSE blows up",
            "the loss is summed ({how}), not averaged, so every gradient is N = {n} times "
            "larger: use the default reduction='mean'",
        ),
        Mistake(
            "trained_on_test", "trained on the test split",
            "steps follow the test split's gradient, not the training split's",
            "the model is fitted to the test split (X_test, y_test): train on X_train, "
            "y_train, and keep the test split for evaluation",
        ),
        Mistake(
            "backward_on_test_loss", "backward on the test loss",
            "the training loss is computed, but the steps follow the test split's gradient",
            "loss.backward() is called on the test loss, so the steps follow the test split's "
            "gradient: call backward() on the training loss",
        ),
        Mistake(
            "wrong_lr", "another learning rate",
            "every step has the right direction and the wrong length",
            "the learning rate is {lr:.6g}, not {expected:g}: every step has the right "
            "direction and the wrong length",
        ),
        Mistake(
            "wrong_epochs", "another number of epochs",
            "the path is right, but it stops early or runs on",
            "the loop took {steps} steps for {epochs} epochs: step once per epoch, for "
            "`epochs` epochs (for epoch in range(epochs))",
        ),
        Mistake(
            "no_seed", "no torch.manual_seed(42)",
            "the path starts somewhere other than seed 42's (0.3367, 0.1288)",
            "the model starts at {start}, not at seed 42's {seed42}: call "
            "torch.manual_seed(42) just before building the model",
        ),
        Mistake(
            "lr_too_large", "a learning rate past the stable limit",
            "each step overshoots further: the loss explodes to inf or NaN",
            "the run diverged at epoch {epoch}: lr {lr:g} is too large{limit}",
        ),
        Mistake(
            "test_with_grad", "test loss with autograd on",
            "none in the numbers: the test loss builds a graph it never needs",
            "the test loss is computed with autograd on: wrap it in torch.inference_mode() "
            "(the numbers are unaffected; the graph costs time and memory)",
            warning=True,
        ),
        Mistake(
            "test_in_train_mode", "test loss in train mode",
            "none here: a model with dropout or batch norm would test differently",
            "the test loss is computed in train mode: call model.eval() first (the numbers "
            "are unaffected here; dropout or batch norm would change them)",
            warning=True,
        ),
    )
}  # fmt: skip
SIMULATED = (
    "no_zero_grad",
    "zero_grad_after_backward",
    "step_before_backward",
    "sum_reduction",
    "trained_on_test",
)


@dataclass(frozen=True)
class Data:
    """The course's split, as the learner's loop saw it."""

    X_train: np.ndarray  # (N, d)
    y_train: np.ndarray  # (N, 1)
    X_test: np.ndarray  # (n, d)
    y_test: np.ndarray  # (n, 1)


def kink_slack(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float
) -> np.ndarray:
    """How far (dw, db) of the L1 loss may move when the forward pass rounds at `eps`.

    dL/dŷ_i = sign(r_i)/N. Where |r_i| is within the forward pass's rounding of zero,
    r_i = x_i·w + b − y_i ≈ ±4ε(|x_i|·|w| + |b| + |y_i|), another machine's kernels may give
    the other sign (or 0), moving dpred_i by up to 2/N: dw_j by 2|x_ij|/N, db by 2/N.
    """
    X, y = X.astype(np.float64), y.astype(np.float64)
    r = X @ w + b - y[:, 0]
    rounding = 4 * eps * (np.abs(X) @ np.abs(w) + abs(float(b[0])) + np.abs(y[:, 0]))
    near = (np.abs(r) <= rounding)[:, None]
    n = len(X)
    return np.concatenate([(2 * np.abs(X) * near).sum(axis=0) / n, [2 * near.sum() / n]])


def own_gradient(
    g: np.ndarray, seen: np.ndarray | None, slack: np.ndarray, eps: float
) -> np.ndarray:
    """The gradient the learner's step saw, when it is the hand-derived one up to rounding.

    A replay that carries its own gradient across an L1 kink drifts from a correct learner
    for good (Adam's moments remember it), so each step is judged from the learner's own
    gradient wherever that is the hand-derived gradient within the kink's slack and float
    rounding; anywhere else the hand-derived gradient stands, and the step will not match.
    """
    if seen is None or not np.all(np.isfinite(seen)):
        return g
    tol = slack + 64 * eps * (np.abs(g) + 1e-3)
    return seen if np.all(np.abs(seen - g) <= tol) else g


def replay(
    kind: str,
    path: np.ndarray,
    data: Data,
    loss: str,
    opt: Optimizer,
    seen: np.ndarray | None = None,
) -> np.ndarray:
    """θ_{k+1} predicted from each of the learner's θ_k under `kind` ("reference" = no mistake).

    path: (K+1, d+1), the learner's start and the parameters after each of its K steps.
    seen: (K, d+1), the gradients each of its steps saw (NaN where there was none): used by
    the reference replay where they are the hand-derived gradient up to rounding.
    """
    X, y = (data.X_test, data.y_test) if kind == "trained_on_test" else (data.X_train, data.y_train)
    eps = float(np.finfo(X.dtype).eps)  # the learner's data's rounding, for the kinks
    X, y = X.astype(np.float64), y.astype(np.float64)
    state: OptimizerState | None = None
    carried: tuple[np.ndarray, np.ndarray] | None = None
    out = np.empty((len(path) - 1, path.shape[1]))
    for k in range(len(path) - 1):
        theta = path[k].astype(np.float64)
        w, b = theta[:-1], theta[-1:]
        if state is None:
            state = init_state(opt, (w, b))
        if not np.all(np.isfinite(theta)):
            out[k] = np.nan
            continue
        with np.errstate(all="ignore"):
            _, dw, db = gradients(X, y, w, b, LOSSES[loss])
        if kind == "reference" and seen is not None and k < len(seen):
            slack = kink_slack(X, y, w, b, eps) if loss == "l1" else np.zeros(len(theta))
            g_own = own_gradient(np.concatenate([dw, db]), seen[k], slack, eps)
            dw, db = g_own[:-1], g_own[-1:]
        if kind == "sum_reduction":
            dw, db = dw * len(X), db * len(X)
        g: tuple[np.ndarray, np.ndarray] | None = (dw, db)
        if kind == "no_zero_grad":
            carried = g if carried is None else (carried[0] + dw, carried[1] + db)
            g = carried
        elif kind == "step_before_backward":
            g, carried = carried, g
        elif kind == "zero_grad_after_backward":
            g = None
        if g is None:  # torch skips a parameter whose .grad is None
            out[k] = theta
            continue
        with np.errstate(all="ignore"):
            (w2, b2), state = step((w, b), g, state, opt)
        out[k] = np.concatenate([w2, b2])
    return out


def step_matches(predicted: np.ndarray, path: np.ndarray) -> np.ndarray:
    """(K,) bools: the learner's θ_{k+1} is the predicted one (within float32 rounding)."""
    taken = path[1:]
    both_bad = ~np.isfinite(predicted) & ~np.isfinite(taken)
    tol = 2e-6 + 2e-5 * np.abs(taken)
    with np.errstate(invalid="ignore"):
        close = np.abs(predicted - taken) <= tol
    return np.all(close | both_bad, axis=1)


def diverged(path: np.ndarray) -> int | None:
    """The first step whose parameters are non-finite or beyond 1e6, or None."""
    with np.errstate(invalid="ignore"):
        bad = ~np.all(np.isfinite(path[1:]) & (np.abs(path[1:]) < 1e6), axis=1)
    return int(np.argmax(bad)) if bad.any() else None
