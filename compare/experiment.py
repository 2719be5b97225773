"""Feed both implementations the same data and the same start, train both, compare every epoch."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TypeVar

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

import manual.train
import torch_impl.train
from compare import optim_args
from compare.closed_form import least_squares
from compare.config import CLASSIC_OPTIMIZERS, RunConfig
from compare.schedules import FRESH, ScheduleStart, make_torch_scheduler, schedule_of
from compare.tolerance import TOLERANCES, Tolerance
from manual.data import Split, make_line
from manual.losses import LOSSES
from manual.optim import SGD, Adam, Optimizer, OptimizerState
from torch_impl.data import make_loader, to_tensor
from torch_impl.device import DTYPES, resolve_device
from torch_impl.losses import make_loss
from torch_impl.model import MODELS, weight_and_bias
from torch_impl.optim import OPTIMIZERS


@dataclass(frozen=True)
class Trajectory:
    """One implementation's run as arrays, one row per recorded epoch (every epoch but in
    runs longer than RECORD_ROWS, where Comparison.epochs says which)."""

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

    def rows(self) -> np.ndarray:
        """(epochs, d + 3) rows: w, b, train loss, test loss (the inverse of _split)."""
        return np.column_stack([self.weight, self.bias, self.train_loss, self.test_loss])


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
    weight_diff: np.ndarray  # (rows,), max_j |w_manual - w_torch|
    bias_diff: np.ndarray  # (rows,), |b_manual - b_torch|
    tolerance: Tolerance  # what counts as agreement for this dtype
    first_divergence_epoch: int | None  # first epoch beyond tolerance, None if never
    closed_form: tuple[np.ndarray, float] | None  # MSE optimum (w*, b*), None for other losses
    manual_run: ManualRun = field(compare=False, repr=False)  # for saving checkpoints
    torch_run: TorchRun = field(compare=False, repr=False)  # for saving checkpoints
    epochs: np.ndarray = field(default_factory=lambda: np.empty(0, int))  # the rows' epochs
    max_param_diff: float = 0.0  # over every epoch, recorded or not
    max_loss_diff: tuple[float, float] = (0.0, 0.0)  # (train, test), over every epoch

    @property
    def agree(self) -> bool:
        """True when no epoch left the tolerance."""
        return self.first_divergence_epoch is None

    @property
    def thinned(self) -> bool:
        """True when the rows are every k-th epoch of a long run rather than every epoch."""
        return len(self.epochs) < self.config.epochs

    @property
    def loss_diff(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows,) |Δ train loss| and |Δ test loss| between the two sides."""
        return (
            np.abs(self.manual.train_loss - self.torch.train_loss),
            np.abs(self.manual.test_loss - self.torch.test_loss),
        )

    @property
    def param_diff(self) -> np.ndarray:
        """(rows,), the largest |Δ| over all parameters."""
        return np.maximum(self.weight_diff, self.bias_diff)


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
    """The optimizer's hyperparameters, shared by both sides (torch's names throughout)."""
    if config.optimizer not in CLASSIC_OPTIMIZERS:
        family: Optimizer = optim_args.family_options(
            config.optimizer, config.lr, config.weight_decay, config.maximize, config.optim_args
        )
        return family
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
    """The torch.optim optimizer with the same hyperparameters as the manual side."""
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
    schedule_start: ScheduleStart = FRESH  # where its schedule began


@dataclass
class TorchRun:
    """The torch side after training: the trained model, its optimizer, history."""

    model: torch.nn.Module  # trained in place
    optimizer: torch.optim.Optimizer  # holds the momentum buffers, ready to resume from
    history: torch_impl.train.History  # this run's epochs
    scheduler: LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau | None = None


def train_manual(
    config: RunConfig,
    split: Split,
    start: tuple[np.ndarray, np.ndarray],
    state: OptimizerState | None = None,
    epoch_offset: int = 0,
    on_epoch: Callable[[int], None] | None = None,
    schedule_start: ScheduleStart = FRESH,
) -> ManualRun:
    """Run manual.train.fit from `start` (and `state`, when resuming at `epoch_offset`; the
    schedule then from `schedule_start`)."""
    # Overflow is caught by fit's finiteness check, which names the epoch: no NumPy warning.
    with np.errstate(over="ignore", invalid="ignore"):
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
            schedule=schedule_of(config, schedule_start.total),
            first_step=schedule_start.steps,
            plateau=schedule_start.plateau,
        )
    return ManualRun(params, state, history, schedule_start)


def train_torch(
    config: RunConfig,
    split: Split,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    epoch_offset: int = 0,
    on_epoch: Callable[[int], None] | None = None,
    scheduler: LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau | None = None,
) -> TorchRun:
    """Run torch_impl.train.fit on `model` (and `optimizer` and `scheduler`, when resuming),
    in place."""
    device = next(model.parameters()).device
    optimizer = optimizer or make_torch_optimizer(config, model)
    if scheduler is None:
        scheduler = make_torch_scheduler(config, optimizer)
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
        scheduler,
    )
    return TorchRun(model, optimizer, history, scheduler)


def start_of(model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """The model's current (w, b) as NumPy arrays, for handing to the manual side."""
    weight, bias = weight_and_bias(model)
    return weight.detach().cpu().numpy().copy(), bias.detach().cpu().numpy().copy()


CHUNK = 10_000  # epochs each side trains before the two are compared and the chunk let go
RECORD_ROWS = 100_000  # epochs kept in full; a longer run keeps every k-th, k doubling


@dataclass
class Record:
    """The rows kept of a run: memory bounded by RECORD_ROWS, whatever the epoch count.

    Each row is (w_1 … w_d, b, train loss, test loss) for both sides. Every epoch is kept up
    to `limit`; then the stride doubles and only epochs divisible by it stay. The run's last
    epoch is added at the end, so tables and figures always reach it.
    """

    limit: int = RECORD_ROWS  # rows kept at most (plus the last epoch)
    stride: int = 1  # every stride-th epoch is kept
    epochs: list[np.ndarray] = field(default_factory=list)  # one block per chunk
    manual: list[np.ndarray] = field(default_factory=list)
    torch: list[np.ndarray] = field(default_factory=list)

    def add(self, first: int, m: np.ndarray, t: np.ndarray) -> None:
        """Keep a chunk's rows (epochs first, first + 1, …) that the stride keeps."""
        e = np.arange(first, first + len(m))
        keep = e % self.stride == 0
        self.epochs.append(e[keep])
        self.manual.append(m[keep])
        self.torch.append(t[keep])
        while sum(len(b) for b in self.epochs) > self.limit:
            self.stride *= 2
            keeps = [b % self.stride == 0 for b in self.epochs]
            self.epochs = [b[k] for b, k in zip(self.epochs, keeps, strict=True)]
            self.manual = [b[k] for b, k in zip(self.manual, keeps, strict=True)]
            self.torch = [b[k] for b, k in zip(self.torch, keeps, strict=True)]

    def finish(self, last: int, m_row: np.ndarray, t_row: np.ndarray) -> None:
        """End with the last epoch, kept or not."""
        if not self.epochs or not len(self.epochs[-1]) or self.epochs[-1][-1] != last:
            self.add_row(last, m_row, t_row)

    def add_row(self, epoch: int, m_row: np.ndarray, t_row: np.ndarray) -> None:
        self.epochs.append(np.array([epoch]))
        self.manual.append(m_row[None])
        self.torch.append(t_row[None])

    def trajectories(self, d: int) -> tuple[np.ndarray, Trajectory, Trajectory]:
        """The kept epochs, and each side's rows as a Trajectory."""

        def side(blocks: list[np.ndarray]) -> Trajectory:
            return Trajectory(
                *_split(np.concatenate(blocks) if blocks else np.empty((0, d + 3)), d)
            )

        epochs = np.concatenate(self.epochs) if self.epochs else np.empty(0, int)
        return epochs, side(self.manual), side(self.torch)


def _renumbered(e: ArithmeticError, first: int) -> ArithmeticError:
    """A DivergedError from one chunk, with the run's epoch number."""
    if isinstance(e, manual.train.DivergedError | torch_impl.train.DivergedError):
        return type(e)(first + e.epoch, e.what)
    return e


H = TypeVar("H", manual.train.History, torch_impl.train.History)


def _joined(h: H | None, more: H) -> H:
    if h is None:
        return more
    h.train_loss += more.train_loss
    h.test_loss += more.test_loss
    h.weight += more.weight
    h.bias += more.bias
    return h


def run_both(config: RunConfig, on_epoch: Callable[[str, int], None] | None = None) -> Comparison:
    """Train manual and torch from the same start on the same data, and compare them.

    Both sides train CHUNK epochs at a time; each chunk is compared epoch by epoch as it comes
    and then kept only as far as the Record keeps it, so memory stays bounded for any number
    of epochs. Up to RECORD_ROWS epochs the full histories are kept too, for checkpoints.
    on_epoch(side, epoch) is called after each epoch of each side, e.g. by a progress bar.
    """
    split = make_data(config)
    model = initial_model(config, resolve_device(config.device))
    w0, b0 = start_of(model)
    tol = TOLERANCES[config.dtype]
    record = Record(limit=RECORD_ROWS)
    params, state = (w0, b0), None
    optimizer = make_torch_optimizer(config, model)
    full = config.epochs <= RECORD_ROWS
    m_hist: manual.train.History | None = None
    t_hist: torch_impl.train.History | None = None
    first_bad: int | None = None
    max_param, max_train, max_test = 0.0, 0.0, 0.0
    m_rows = t_rows = np.empty((0, config.features + 3))
    for first in range(0, config.epochs, CHUNK):
        chunk = replace(config, epochs=min(CHUNK, config.epochs - first))
        hook_m = None if on_epoch is None else _shifted(on_epoch, "manual", first)
        hook_t = None if on_epoch is None else _shifted(on_epoch, "torch", first)
        try:
            manual_run = train_manual(chunk, split, params, state, first, hook_m)
            torch_run = train_torch(chunk, split, model, optimizer, first, hook_t)
        except ArithmeticError as e:
            raise _renumbered(e, first) from None
        params, state = manual_run.params, manual_run.state
        m_chunk = Trajectory.from_history(manual_run.history)
        t_chunk = Trajectory.from_history(torch_run.history)
        if full:
            m_hist = _joined(m_hist, manual_run.history)
            t_hist = _joined(t_hist, torch_run.history)
        bad = first_divergence(m_chunk, t_chunk, tol)
        if first_bad is None and bad is not None:
            first_bad = first + bad
        m_rows, t_rows = m_chunk.rows(), t_chunk.rows()
        gap = np.abs(m_rows - t_rows)
        max_param = max(max_param, float(gap[:, : config.features + 1].max()))
        max_train = max(max_train, float(gap[:, -2].max()))
        max_test = max(max_test, float(gap[:, -1].max()))
        record.add(first, m_rows, t_rows)
    record.finish(config.epochs - 1, m_rows[-1], t_rows[-1])
    epochs, m, t = record.trajectories(config.features)
    assert state is not None  # at least one chunk ran: RunConfig needs epochs >= 1
    manual_run = ManualRun(params, state, m_hist or manual.train.History())
    # A schedule spans one chunk (MAX_SCHEDULED_EPOCHS), so the last chunk's scheduler is its.
    torch_run = TorchRun(
        model, optimizer, t_hist or torch_impl.train.History(), torch_run.scheduler
    )
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
        first_divergence_epoch=first_bad,
        closed_form=closed,
        manual_run=manual_run,
        torch_run=torch_run,
        epochs=epochs,
        max_param_diff=max_param,
        max_loss_diff=(max_train, max_test),
    )


def _split(rows: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(w, b, train loss, test loss) columns of (epochs, d + 3) rows."""
    return rows[:, :d], rows[:, d], rows[:, d + 1], rows[:, d + 2]


def _shifted(on_epoch: Callable[[str, int], None], side: str, first: int) -> Callable[[int], None]:
    return lambda epoch: on_epoch(side, first + epoch)
