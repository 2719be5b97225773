"""The training loop in the course's shape: train(), forward, loss, zero_grad, backward, step."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.optim.lr_scheduler import CyclicLR, LRScheduler, OneCycleLR, ReduceLROnPlateau

from torch_impl.model import LinearRegressionModel, weight_and_bias


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
    weight: list[torch.Tensor] = field(default_factory=list)  # w after each epoch, (d,), on the CPU
    bias: list[float] = field(default_factory=list)  # b after each epoch


def build(lr: float = 0.01) -> tuple[nn.Module, nn.Module, torch.optim.Optimizer]:
    """The chapter's start: seed 42, its nn.Parameter model, L1 loss and SGD.

    torch.manual_seed(42); model_0 = LinearRegressionModel()
    loss_fn = nn.L1Loss(); optimizer = torch.optim.SGD(params=model_0.parameters(), lr=0.01)
    """
    # BEGIN SOLUTION task-13
    torch.manual_seed(42)
    model = LinearRegressionModel()
    loss_fn = nn.L1Loss()
    optimizer = torch.optim.SGD(params=model.parameters(), lr=lr)
    return model, loss_fn, optimizer
    # END SOLUTION


def predict(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """ŷ for X as the chapter infers: model.eval(), then the forward pass under inference_mode()."""
    # BEGIN SOLUTION task-15
    model.eval()  # layers such as dropout behave as at test time
    with torch.inference_mode():  # no graph: nothing here will be differentiated
        pred: torch.Tensor = model(X)
    return pred
    # END SOLUTION


def train_step(
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
) -> torch.Tensor:
    """One step, the course's five lines; returns the loss from before the update.

    forward, loss, optimizer.zero_grad(), loss.backward(), optimizer.step()
    """
    # BEGIN SOLUTION task-14
    y_pred = model(X)  # 1. forward pass
    loss: torch.Tensor = loss_fn(y_pred, y)  # 2. loss
    optimizer.zero_grad()  # 3. clear last step's gradients
    loss.backward()  # 4. backpropagation: fills .grad of every parameter
    optimizer.step()  # 5. gradient descent: θ ← θ - lr·∇θ
    return loss.detach()
    # END SOLUTION


def fit(
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    epochs: int,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None,
    on_epoch: Callable[[int], None] | None = None,
    scheduler: LRScheduler | ReduceLROnPlateau | None = None,
) -> History:
    """Train `model` in place and return the history.

    Full batch by default, as the course. With a DataLoader, one step per batch; the epoch's
    train loss is the mean of its batches' losses, each taken before that batch's step.
    """
    history = History()
    # torch's docs: a cycle is stepped after every batch; the other schedules every epoch.
    per_batch = loader is not None and isinstance(scheduler, OneCycleLR | CyclicLR)
    for epoch in range(epochs):
        ### Training
        model.train()
        batch_losses = []
        for X, y in loader if loader is not None else [(X_train, y_train)]:
            loss = train_step(model, loss_fn, optimizer, X, y)
            batch_losses.append(loss.item())
            if per_batch and isinstance(scheduler, OneCycleLR | CyclicLR):
                scheduler.step()

        ### Testing
        with torch.inference_mode():
            test_loss = loss_fn(predict(model, X_test), y_test)

        if isinstance(scheduler, ReduceLROnPlateau):
            scheduler.step(test_loss.item())  # cut the lr when the test loss stalls
        elif scheduler is not None and not per_batch:
            scheduler.step()  # the next epoch's lr

        weight, bias = weight_and_bias(model)
        w = weight.detach().cpu().clone()  # this epoch's parameters, off the graph
        b = bias.item()
        train_value = torch.tensor(batch_losses, dtype=torch.float64).mean().item()
        test_value = test_loss.item()
        if not (math.isfinite(train_value) and math.isfinite(test_value)):
            raise DivergedError(epoch, "the loss")
        if not (bool(torch.isfinite(w).all()) and math.isfinite(b)):
            raise DivergedError(epoch, "a parameter")
        history.train_loss.append(train_value)
        history.test_loss.append(test_value)
        history.weight.append(w)
        history.bias.append(b)
        if on_epoch is not None:  # e.g. a progress bar
            on_epoch(epoch)
    return history
