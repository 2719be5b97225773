"""The training loop, by hand: forward, loss, gradients, step; then the test loss."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from manual.compose import ChainedScheduler, Composed, SequentialLR, composed_lr
from manual.cycles import Cycle, CyclicLR, OneCycleLR, PerBatch, cycle_at, schedule_steps
from manual.gradients import gradients
from manual.losses import Loss
from manual.model import forward
from manual.optim import Optimizer, OptimizerState, init_state
from manual.optim import step as optim_step
from manual.schedulers import (
    PlateauState,
    ReduceLROnPlateau,
    Schedule,
    lr_at,
    plateau_init,
    plateau_step,
)


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


def batches(n: int, batch_size: int | None, order: np.ndarray | None) -> list[np.ndarray]:
    """Row indices of each mini-batch: `order` (or 0..n-1) cut into runs of `batch_size`.

    The last batch keeps the remainder, as DataLoader(drop_last=False). None means full batch.
    """
    order = np.arange(n) if order is None else order
    size = n if batch_size is None else batch_size
    return [order[i : i + size] for i in range(0, n, size)]


def fit(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    params: tuple[np.ndarray, np.ndarray],
    loss: Loss,
    opt: Optimizer,
    epochs: int,
    state: OptimizerState | None = None,
    batch_size: int | None = None,
    orders: Sequence[np.ndarray] | None = None,
    on_epoch: Callable[[int], None] | None = None,
    schedule: Schedule | ReduceLROnPlateau | Cycle | Composed | None = None,
    first_step: int = 0,
    plateau: PlateauState | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], OptimizerState, History]:
    """Gradient descent for `epochs` epochs; returns (w, b), optimizer state, history.

    Full batch by default, as the course. With `batch_size`, each epoch visits the rows in
    `orders[epoch]` (or in order) and steps once per batch; the epoch's train loss is then the
    mean of its batches' losses, each taken before that batch's step. With a `schedule`, each
    epoch's lr comes from it, as torch's scheduler.step() after every epoch sets it; a cycle
    with `batch_size` is stepped after every batch instead, as torch's documentation has it.
    A resumed schedule carries on: `first_step` of its steps are behind it (torch's
    last_epoch), and ReduceLROnPlateau goes on from `plateau`; a cycle per batch reads the
    state's own step count.
    """
    w, b = params
    per_batch: PerBatch | None = None
    if isinstance(schedule, OneCycleLR | CyclicLR):  # set by the constructor, before a step
        opt = cycle_at(schedule, 0, opt, schedule_steps(schedule, epochs))
        if batch_size is not None:  # torch's docs step a cycle after every batch
            n_batches = -(-len(X_train) // batch_size)  # ⌈N / batch size⌉
            per_batch = PerBatch(opt, schedule, schedule_steps(schedule, epochs * n_batches))
    state = init_state(opt, (w, b)) if state is None else state
    history = History()
    base_lr = opt.lr
    if not isinstance(schedule, ReduceLROnPlateau):
        plateau = None
    elif plateau is None:
        plateau = plateau_init(schedule, base_lr)
    if per_batch is not None:
        opt = per_batch  # type: ignore[assignment]  # step() reads it at each step's count
    for epoch in range(epochs):
        if plateau is not None:
            opt = replace(opt, lr=plateau.lr)
        elif isinstance(schedule, OneCycleLR | CyclicLR):
            if per_batch is None:  # the lr and the momentum, cycled once an epoch
                opt = cycle_at(schedule, first_step + epoch, opt, schedule_steps(schedule, epochs))
        elif isinstance(schedule, SequentialLR | ChainedScheduler):
            opt = replace(opt, lr=composed_lr(schedule, first_step + epoch, base_lr))
        elif schedule is not None and not isinstance(schedule, ReduceLROnPlateau):
            opt = replace(opt, lr=lr_at(schedule, first_step + epoch, base_lr))
        order = None if orders is None else orders[epoch]
        # BEGIN SOLUTION task-9
        batch_losses = []
        for rows in batches(len(X_train), batch_size, order):
            batch_loss, dw, db = gradients(X_train[rows], y_train[rows], w, b, loss)
            (w, b), state = step((w, b), (dw, db), state, opt)
            batch_losses.append(batch_loss)
        test_loss = loss.value(forward(X_test, w, b), y_test)
        train_loss = float(np.mean(batch_losses))
        # END SOLUTION
        if not (np.isfinite(train_loss) and np.isfinite(test_loss)):
            raise DivergedError(epoch, "the loss")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise DivergedError(epoch, "a parameter")
        if plateau is not None and isinstance(schedule, ReduceLROnPlateau):
            plateau = plateau_step(schedule, plateau, float(test_loss))  # it watches the test loss
        history.train_loss.append(train_loss)
        history.test_loss.append(test_loss)
        history.weight.append(w.copy())
        history.bias.append(float(b[0]))
        if on_epoch is not None:  # e.g. a progress bar
            on_epoch(epoch)
    return (w, b), state, history


def step(
    params: tuple[np.ndarray, ...],
    grads: tuple[np.ndarray, ...],
    state: OptimizerState,
    opt: Optimizer | PerBatch,
) -> tuple[tuple[np.ndarray, ...], OptimizerState]:
    """One optimizer step; a PerBatch cycle is read at t = state.step, the steps taken so far,
    as torch's scheduler.step() after every batch leaves param_groups."""
    if isinstance(opt, PerBatch):
        opt = cycle_at(opt.cycle, state.step, opt.opt, opt.total)
    return optim_step(params, grads, state, opt)  # type: ignore[arg-type]
