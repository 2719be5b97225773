"""The training loop, by hand: forward, loss, gradients, step; then the test loss."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from manual.gradients import gradients
from manual.losses import Loss
from manual.model import forward
from manual.optim import SGD, SGDState, sgd_init, sgd_step


class DivergedError(ArithmeticError):
    """The loss or a parameter stopped being a finite number."""

    def __init__(self, epoch: int, what: str) -> None:
        super().__init__(f"training diverged at epoch {epoch}: {what} became non-finite")
        self.epoch = epoch
        self.what = what


@dataclass
class History:
    """One entry per epoch; parameters are recorded after that epoch's update."""

    train_loss: list[float] = field(default_factory=list)  # before the update, as the course
    test_loss: list[float] = field(default_factory=list)  # after the update
    weight: list[np.ndarray] = field(default_factory=list)  # w after each epoch, (d,)
    bias: list[float] = field(default_factory=list)  # b after each epoch


def fit(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    params: tuple[np.ndarray, np.ndarray],
    loss: Loss,
    opt: SGD,
    epochs: int,
    state: SGDState | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], SGDState, History]:
    """Full-batch gradient descent for `epochs` epochs; returns (w, b), optimizer state, history."""
    w, b = params
    state = sgd_init((w, b)) if state is None else state
    history = History()
    for epoch in range(epochs):
        # Overflow is caught below by the finiteness check, with the epoch named.
        with np.errstate(over="ignore", invalid="ignore"):
            train_loss, dw, db = gradients(X_train, y_train, w, b, loss)
            (w, b), state = sgd_step((w, b), (dw, db), state, opt)
            test_loss = loss.value(forward(X_test, w, b), y_test)
        if not (np.isfinite(train_loss) and np.isfinite(test_loss)):
            raise DivergedError(epoch, "the loss")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise DivergedError(epoch, "a parameter")
        history.train_loss.append(train_loss)
        history.test_loss.append(test_loss)
        history.weight.append(w.copy())
        history.bias.append(float(b[0]))
    return (w, b), state, history
