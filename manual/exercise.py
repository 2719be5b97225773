"""The chapter's own end-of-chapter exercise, done by hand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from manual.data import make_line
from manual.losses import LOSSES
from manual.optim import SGD
from manual.train import History, fit


@dataclass(frozen=True)
class Exercise:
    """The exercise's settings."""

    weight: float = 0.3  # the new line's slope
    bias: float = 0.9  # and intercept
    step: float = 0.01  # over arange(0, 1, 0.01): 100 points, 80 to train, 20 to test
    lr: float = 0.01  # SGD, as in the chapter
    epochs: int = 300  # three times the chapter's run


EXERCISE = Exercise()


def chapter_exercise(w0: np.ndarray, b0: np.ndarray) -> History:
    """Fit y = 0.3·x + 0.9 over arange(0, 1, 0.01), split 80/20, with L1 loss and SGD(lr=0.01).

    Train 300 epochs, full batch, from the start (w0, b0) that torch.manual_seed(42) gives the
    chapter's nn.Parameter model; return the History (train loss before each step, test loss
    after it, parameters after it). It must match the same run in PyTorch.
    """
    # BEGIN SOLUTION task-11
    split = make_line(weight=EXERCISE.weight, bias=EXERCISE.bias, step=EXERCISE.step)
    _, _, history = fit(
        split.X_train,
        split.y_train,
        split.X_test,
        split.y_test,
        (w0, b0),
        LOSSES["l1"],
        SGD(lr=EXERCISE.lr),
        EXERCISE.epochs,
    )
    return history
    # END SOLUTION
