"""Feed both implementations the same data and the same start, train both, compare every epoch."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import torch

import manual.train
import torch_impl.train
from compare.closed_form import least_squares
from compare.config import RunConfig
from compare.tolerance import TOLERANCES, Tolerance
from manual.data import Split, make_line
from manual.losses import LOSSES
from manual.optim import SGD, Adam, Optimizer, OptimizerState
from torch_impl.data import make_loader, to_tensor
from torch_impl.device import DTYPES, resolve_device
from torch_impl.losses import make_loss
from torch_impl.model import MODELS, weight_and_bias
from torch_impl.optim import OPTIMIZERS

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Trajectory:
    """One implementation's run as arrays, one row per epoch."""

    weight: np.ndarray  # (epochs, d), after each update
    bias: np.ndarray  # (epochs,), after each update
    train_loss: np.ndarray  # (epochs,), before each update
    test_loss: np.ndarray  # (epochs,), after each update

    @classmethod
    def from_history(cls, h: manual.train.History | torch_impl.train.History) -> Trajectory:
        """Stack either package's History into arrays."""
        return cls(
            weight=np.array(h.weight, dtype=np.float64),
            bias=np.array(h.bias, dtype=np.float64),
            train_loss=np.array(h.train_loss, dtype=np.float64),
            test_loss=np.array(h.test_loss, dtype=np.float64),
        )


@dataclass(frozen=True)
class Comparison:
    """Both trajectories and how far apart they are, epoch by epoch."""

    config: RunConfig  # what was run
    split: Split  # the data both sides saw
    device: str  # where the torch side ran
    initial_weight: np.ndarray  # (d,), the common start
    initial_bias: float  # the common start
    manual: Trajectory  # hand-derived NumPy
    torch: Trajectory  # autograd
    weight_diff: np.ndarray  # (epochs,), max_j |w_manual - w_torch|
    bias_diff: np.ndarray  # (epochs,), |b_manual - b_torch|
    tolerance: Tolerance  # what counts as agreement for this dtype
    first_divergence_epoch: int | None  # first epoch beyond tolerance, None if never
    closed_form: tuple[np.ndarray, float] | None  # MSE optimum (w*, b*), None for other losses
    manual_run: ManualRun = field(compare=False, repr=False)  # for saving checkpoints
    torch_run: TorchRun = field(compare=False, repr=False)  # for saving checkpoints

    @property
    def agree(self) -> bool:
        """True when no epoch left the tolerance."""
        return self.first_divergence_epoch is None

    @property
    def loss_diff(self) -> tuple[np.ndarray, np.ndarray]:
        """(epochs,) |Δ train loss| and |Δ test loss| between the two sides."""
        return (
            np.abs(self.manual.train_loss - self.torch.train_loss),
            np.abs(self.manual.test_loss - self.torch.test_loss),
        )

    @property
    def param_diff(self) -> np.ndarray:
        """(epochs,), the largest |Δ| over all parameters."""
        return np.maximum(self.weight_diff, self.bias_diff)

    def _repr_html_(self) -> str:
        """In a notebook: the verdict, the parameters and the epoch table."""
        from compare.report import comparison_html

        return comparison_html(self)

    def plot(self, kind: str = "loss_landscape") -> Figure:
        """One of the run's figures (predictions, loss_curves, parameters, loss_landscape)."""
        from compare import plots

        makers = {name.removesuffix(".png"): make for name, make in plots.RUN_FIGURES.items()}
        if kind not in makers:
            raise ValueError(f"plot kind {kind!r}: choose one of {', '.join(makers)}")
        return makers[kind](self)


def make_data(config: RunConfig) -> Split:
    """The one dataset both implementations are fed from: make_line's arguments, by name."""
    wanted = inspect.signature(make_line).parameters
    return make_line(**{k: v for k, v in asdict(config).items() if k in wanted})


def initial_model(config: RunConfig, device: torch.device) -> torch.nn.Module:
    """The torch model as the course builds it: torch.manual_seed first, on the CPU, then moved."""
    torch.manual_seed(config.seed)
    model = MODELS[config.model](features=config.features, dtype=DTYPES[config.dtype])
    return model.to(device)


def optimizer_options(config: RunConfig) -> Optimizer:
    """The optimizer's hyperparameters, shared by both sides."""
    if config.optimizer == "sgd":
        return SGD(
            lr=config.lr,
            momentum=config.momentum,
            dampening=config.dampening,
            weight_decay=config.weight_decay,
            nesterov=config.nesterov,
            maximize=config.maximize,
        )
    return Adam(
        lr=config.lr,
        betas=(config.betas[0], config.betas[1]),
        eps=config.eps,
        weight_decay=config.weight_decay,
        amsgrad=config.amsgrad,
        maximize=config.maximize,
        decoupled=config.optimizer == "adamw",
    )


def make_torch_optimizer(config: RunConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """torch.optim.SGD / Adam / AdamW with the same hyperparameters as the manual side."""
    opt = optimizer_options(config)
    options = {k: v for k, v in vars(opt).items() if k != "decoupled"}  # AdamW is its own class
    return OPTIMIZERS[config.optimizer](model.parameters(), **options)


def epoch_orders(config: RunConfig, epoch_offset: int = 0) -> list[np.ndarray] | None:
    """One row permutation per epoch when shuffling (the same for both sides), else None.

    Seeded from (seed, epoch), so epoch k's order does not depend on where a run resumed.
    """
    if not config.shuffle:
        return None
    return [
        np.random.default_rng([config.seed, epoch_offset + e]).permutation(config.n_train)
        for e in range(config.epochs)
    ]


def first_divergence(m: Trajectory, t: Trajectory, tol: Tolerance) -> int | None:
    """The first epoch where any parameter differs by more than the tolerance, or None."""
    w_out = (np.abs(m.weight - t.weight) > tol.bound(t.weight)).any(axis=1)
    b_out = np.abs(m.bias - t.bias) > tol.bound(t.bias)
    out = np.flatnonzero(w_out | b_out)
    return int(out[0]) if out.size else None


@dataclass
class ManualRun:
    """The manual side after training: final parameters, optimizer state, history."""

    params: tuple[np.ndarray, np.ndarray]  # (w, b)
    state: OptimizerState  # momentum buffers or moments, and the step count, to resume from
    history: manual.train.History  # this run's epochs


@dataclass
class TorchRun:
    """The torch side after training: the trained model, its optimizer, history."""

    model: torch.nn.Module  # trained in place
    optimizer: torch.optim.Optimizer  # holds the momentum buffers, ready to resume from
    history: torch_impl.train.History  # this run's epochs


def train_manual(
    config: RunConfig,
    split: Split,
    start: tuple[np.ndarray, np.ndarray],
    state: OptimizerState | None = None,
    epoch_offset: int = 0,
    on_epoch: Callable[[int], None] | None = None,
) -> ManualRun:
    """Run manual.train.fit from `start` (and `state`, when resuming at `epoch_offset`)."""
    params, state, history = manual.train.fit(
        split.X_train,
        split.y_train,
        split.X_test,
        split.y_test,
        (start[0].copy(), start[1].copy()),
        LOSSES[config.loss],
        optimizer_options(config),
        config.epochs,
        state,
        batch_size=config.batch_size,
        orders=epoch_orders(config, epoch_offset),
        on_epoch=on_epoch,
    )
    return ManualRun(params, state, history)


def train_torch(
    config: RunConfig,
    split: Split,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    epoch_offset: int = 0,
    on_epoch: Callable[[int], None] | None = None,
) -> TorchRun:
    """Run torch_impl.train.fit on `model` (and `optimizer`, when resuming), in place."""
    device = next(model.parameters()).device
    optimizer = optimizer or make_torch_optimizer(config, model)
    X_train, y_train = to_tensor(split.X_train, device), to_tensor(split.y_train, device)
    loader = None
    if config.batch_size is not None:
        loader = make_loader(
            X_train, y_train, config.batch_size, epoch_orders(config, epoch_offset)
        )
    history = torch_impl.train.fit(
        model,
        make_loss(config.loss),
        optimizer,
        X_train,
        y_train,
        to_tensor(split.X_test, device),
        to_tensor(split.y_test, device),
        config.epochs,
        loader,
        on_epoch,
    )
    return TorchRun(model, optimizer, history)


def start_of(model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """The model's current (w, b) as NumPy arrays, for handing to the manual side."""
    weight, bias = weight_and_bias(model)
    return weight.detach().cpu().numpy().copy(), bias.detach().cpu().numpy().copy()


def run_both(config: RunConfig, on_epoch: Callable[[str, int], None] | None = None) -> Comparison:
    """Train manual and torch from the same start on the same data, and compare them.

    on_epoch(side, epoch) is called after each epoch of each side, e.g. by a progress bar.
    """
    split = make_data(config)
    model = initial_model(config, resolve_device(config.device))
    w0, b0 = start_of(model)
    hook_m = None if on_epoch is None else partial(on_epoch, "manual")
    hook_t = None if on_epoch is None else partial(on_epoch, "torch")
    manual_run = train_manual(config, split, (w0, b0), on_epoch=hook_m)
    torch_run = train_torch(config, split, model, on_epoch=hook_t)
    m = Trajectory.from_history(manual_run.history)
    t = Trajectory.from_history(torch_run.history)
    tol = TOLERANCES[config.dtype]
    closed = (
        least_squares(split.X_train, split.y_train, config.weight_decay)
        if config.loss == "mse"
        else None
    )
    return Comparison(
        config=config,
        split=split,
        device=str(next(model.parameters()).device),
        initial_weight=w0.astype(np.float64),
        initial_bias=float(b0[0]),
        manual=m,
        torch=t,
        weight_diff=np.abs(m.weight - t.weight).max(axis=1),
        bias_diff=np.abs(m.bias - t.bias),
        tolerance=tol,
        first_divergence_epoch=first_divergence(m, t, tol),
        closed_form=closed,
        manual_run=manual_run,
        torch_run=torch_run,
    )
