"""One run's settings, checked once here so nothing downstream has to."""

from __future__ import annotations

import io
import math
import os
import tokenize
from dataclasses import dataclass, fields
from typing import Any

from compare import optim_args, scheduler_args

LOSS_NAMES = ("l1", "mse", "huber")
MODEL_NAMES = ("parameter", "linear")
DTYPE_NAMES = ("float32", "float64")
DEVICE_NAMES = ("auto", "cpu", "cuda")
# torch.optim's class names in lower case: sgd, adam and adamw have flags of their own
# (--momentum, --betas, …); the families after them take --optim-args
CLASSIC_OPTIMIZERS = tuple(optim_args.CLASSIC)
OPTIMIZER_NAMES = (*CLASSIC_OPTIMIZERS, *optim_args.FAMILIES)
MAX_POINTS = 10_000_000  # keeps a typo in --step from asking for terabytes
MAX_SEED = 2**32  # NumPy and torch both take seeds in [0, 2**32)
CYCLES = ("onecyclelr", "cycliclr")  # schedules that also move the momentum, per batch
MAX_SCHEDULED_EPOCHS = 10_000  # one chunk of experiment.run_both: a schedule spans no chunks


def max_elements() -> int:
    """Array elements a run may ask for: an eighth of physical memory in float64 values.

    Both sides hold X (and torch's temporaries are as large), so a run needs several copies.
    """
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        memory = 8 << 30
    return max(1, memory // 8 // 8)


class ConfigError(ValueError):
    """A setting is out of range; the message says which and how to fix it."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run. The defaults are the course chapter's."""

    loss: str = "l1"  # l1 (the chapter's MAE) | mse | huber: nn.L1Loss / MSELoss / HuberLoss
    lr: float = 0.01  # learning rate η
    epochs: int = 100  # full passes over the training data
    seed: int = 42  # torch.manual_seed for the start, and the seed for extra features/noise
    model: str = "parameter"  # parameter (nn.Parameter, course model_0) | linear (nn.Linear)
    momentum: float = 0.0  # SGD momentum μ
    dampening: float = 0.0  # SGD dampening τ
    nesterov: bool = False  # Nesterov momentum
    weight_decay: float = 0.0  # L2 penalty λ added to the gradient
    dtype: str = "float32"  # float32 | float64, for data, parameters and arithmetic
    device: str = "auto"  # auto | cpu | cuda, for the torch side
    weight: float = 0.7  # true weight of the line (first feature's)
    bias: float = 0.3  # true bias of the line
    start: float = 0.0  # first x
    end: float = 1.0  # x stops before this
    step: float = 0.02  # spacing of x
    train_split: float = 0.8  # fraction of points, taken from the front, used for training
    features: int = 1  # d, the number of input features
    noise: float = 0.0  # standard deviation of Gaussian noise added to y
    batch_size: int | None = None  # rows per step; None = the whole training set (the course)
    shuffle: bool = False  # a fresh seeded permutation of the rows every epoch
    optimizer: str = "sgd"  # torch.optim's class, lower case: sgd, adam, adamw, rmsprop, …
    betas: tuple[float, float] = (0.9, 0.999)  # Adam's β1, β2
    eps: float = 1e-8  # Adam's ε
    amsgrad: bool = False  # Adam's AMSGrad variant
    maximize: bool = False  # climb the loss instead of descending it (torch.optim's maximize)
    optim_args: tuple[tuple[str, Any], ...] = ()  # more torch.optim keywords, e.g. alpha=0.9
    scheduler: str | None = None  # torch.optim.lr_scheduler's class, lower case: steplr, …
    scheduler_args: tuple[tuple[str, Any], ...] = ()  # its keywords, e.g. step_size=30

    def __post_init__(self) -> None:
        self._fold_optim_args()
        for f in fields(self):
            value = getattr(self, f.name)
            values = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                raise ConfigError(f"--{_flag(f.name)} is {value}; give finite numbers")
        _choice("loss", self.loss, LOSS_NAMES)
        _choice("model", self.model, MODEL_NAMES)
        _choice("dtype", self.dtype, DTYPE_NAMES)
        _choice("device", self.device, DEVICE_NAMES)
        _choice("optimizer", self.optimizer, OPTIMIZER_NAMES)
        if self.lr <= 0:
            raise ConfigError(f"--lr is {self.lr}; the learning rate must be > 0, e.g. --lr 0.01")
        if self.epochs < 1:
            raise ConfigError(f"--epochs is {self.epochs}; train for at least 1 epoch")
        if self.momentum < 0:
            raise ConfigError(f"--momentum is {self.momentum}; use a value >= 0, e.g. 0.9")
        if self.weight_decay < 0:
            raise ConfigError(f"--weight-decay is {self.weight_decay}; use a value >= 0")
        if self.optimizer != "sgd" and (self.momentum or self.dampening or self.nesterov):
            instead = "tune --betas" if self.optimizer in CLASSIC_OPTIMIZERS else "see --optim-args"
            raise ConfigError(
                f"--momentum, --dampening and --nesterov are SGD options; {self.optimizer} keeps "
                f"its own moments ({instead} instead)"
            )
        if self.optimizer not in CLASSIC_OPTIMIZERS:
            self._check_family()
        if self.scheduler is not None or self.scheduler_args:
            self._check_scheduler()
        if self.optimizer == "sgd":
            given = [
                flag
                for flag, value, default in (
                    ("--betas", self.betas, (0.9, 0.999)),
                    ("--eps", self.eps, 1e-8),
                    ("--amsgrad", self.amsgrad, False),
                )
                if value != default
            ]
            if given:
                are = "is an Adam option" if len(given) == 1 else "are Adam options"
                raise ConfigError(
                    f"{', '.join(given)} {are}; add --optimizer adam (or adamw), or drop it"
                )
        if not 0 <= self.seed < MAX_SEED:
            raise ConfigError(f"--seed is {self.seed}; use an integer from 0 to {MAX_SEED - 1}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"--betas {self.betas} must be two numbers in [0, 1), e.g. 0.9 0.999")
        if self.eps < 0:
            raise ConfigError(f"--eps is {self.eps}; use a small value >= 0, e.g. 1e-8")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ConfigError(
                "--nesterov needs a momentum > 0 and zero dampening; add e.g. --momentum 0.9"
            )
        if self.features < 1:
            raise ConfigError(f"--features is {self.features}; use at least 1 feature")
        if self.noise < 0:
            raise ConfigError(f"--noise is {self.noise}; a standard deviation must be >= 0")
        if self.step <= 0:
            raise ConfigError(f"--step is {self.step}; the spacing of x must be > 0, e.g. 0.02")
        if self.start >= self.end:
            raise ConfigError(
                f"--start {self.start} is not below --end {self.end}; x runs from start up to end"
            )
        n = self.n_points
        if n > MAX_POINTS:
            raise ConfigError(
                f"{n} points is more than {MAX_POINTS}; use a larger --step or a shorter range"
            )
        if n * self.features > max_elements():
            raise ConfigError(
                f"{n} points × {self.features} features is {n * self.features:,} values, more "
                f"than this machine's limit of {max_elements():,}; use fewer points or features"
            )
        n_train = int(self.train_split * n)
        if not 0 < self.train_split < 1 or n_train < 1 or n_train >= n:
            raise ConfigError(
                f"--train-split {self.train_split} of {n} points leaves "
                f"{n_train} to train and {n - n_train} to test; both need at least 1 point "
                "(use a split between 0 and 1, or more points via --step)"
            )
        if self.batch_size is not None and not 1 <= self.batch_size <= n_train:
            raise ConfigError(
                f"--batch-size {self.batch_size} does not fit {n_train} training points; "
                f"use 1 to {n_train}, or leave it out for full batch"
            )

    def _fold_optim_args(self) -> None:
        """--optim-args in one sorted form; for SGD and Adam, into the fields they name."""
        pairs = optim_args.as_pairs(self.optim_args)
        if self.optimizer in OPTIMIZER_NAMES:
            message = optim_args.problem(self.optimizer, pairs)
            if message is not None:
                raise ConfigError(message)
        if self.optimizer in CLASSIC_OPTIMIZERS:
            for key, value in pairs:
                object.__setattr__(self, key, value)
            pairs = ()
        object.__setattr__(self, "optim_args", pairs)

    def _check_family(self) -> None:
        """The flags of SGD and Adam do not apply; torch.optim itself checks each value's range."""
        adam_flags = [flag for flag, value, default in (("--betas", self.betas, (0.9, 0.999)),
                      ("--eps", self.eps, 1e-8), ("--amsgrad", self.amsgrad, False))
                      if value != default]  # fmt: skip
        if adam_flags:
            raise ConfigError(
                f"{', '.join(adam_flags)}: Adam's flags; give {self.optimizer}'s own as "
                f"--optim-args KEY=VALUE ({', '.join(optim_args.accepted(self.optimizer))})"
            )
        if self.weight_decay and "weight_decay" not in optim_args.accepted(self.optimizer):
            raise ConfigError(f"--weight-decay: {self.optimizer} has no weight decay; drop it")
        import torch  # only here: choosing one of these families is choosing to train with torch

        opt = optim_args.family_options(
            self.optimizer, self.lr, self.weight_decay, self.maximize, self.optim_args
        )
        cls = getattr(torch.optim, type(opt).__name__)
        try:
            cls([torch.zeros(1, requires_grad=True)], **vars(opt))
        except (ValueError, TypeError) as e:
            raise ConfigError(
                f"--optim-args: torch.optim.{cls.__name__} refuses them: {e}"
            ) from None

    def _check_scheduler(self) -> None:
        """A known scheduler with arguments it takes; stepped per epoch, a cycle per batch."""
        pairs = optim_args.as_pairs(self.scheduler_args)
        object.__setattr__(self, "scheduler_args", pairs)
        if self.scheduler is None:
            raise ConfigError("--scheduler-args needs a --scheduler, e.g. --scheduler steplr")
        _choice("scheduler", self.scheduler, tuple(scheduler_args.SCHEDULES))
        message = scheduler_args.problem(self.scheduler, pairs)
        if message is not None:
            raise ConfigError(message)
        if self.cycle_per_batch:
            given = dict(pairs).get("total_steps")
            if given is not None and int(given) < self.scheduler_steps:
                raise ConfigError(
                    f"--scheduler-args total_steps={given}: the run steps its cycle "
                    f"{self.scheduler_steps:,} times ({self.epochs} epochs × "
                    f"{self.scheduler_steps // self.epochs} batches); give at least that, or "
                    "drop it"
                )
        if self.epochs > MAX_SCHEDULED_EPOCHS:
            raise ConfigError(f"--scheduler runs at most {MAX_SCHEDULED_EPOCHS:,} epochs")
        import torch  # torch.optim.lr_scheduler checks each value's range itself

        from torch_impl.optim import OPTIMIZERS

        # The run's own optimizer family: a cycle that moves the momentum needs one that has it.
        opt = OPTIMIZERS[self.optimizer]([torch.zeros(1, requires_grad=True)], lr=self.lr)
        schedule = scheduler_args.schedule_for(self.scheduler, pairs, self.scheduler_steps)
        try:
            scheduler_args.torch_scheduler(schedule, opt)
        except (ValueError, TypeError, ZeroDivisionError) as e:
            raise ConfigError(f"--scheduler-args: {self.scheduler} refuses them: {e}") from None

    @property
    def cycle_per_batch(self) -> bool:
        """A cycle (OneCycleLR, CyclicLR) with --batch-size is stepped after every batch, as
        torch's documentation steps it; every other schedule once per epoch."""
        return self.scheduler in CYCLES and self.batch_size is not None

    @property
    def scheduler_steps(self) -> int:
        """How often the run steps its scheduler: once per epoch, or per batch (cycle_per_batch)."""
        if self.cycle_per_batch and self.batch_size is not None:
            return self.epochs * -(-self.n_train // self.batch_size)
        return self.epochs

    @property
    def n_train(self) -> int:
        """Rows in the training split."""
        return int(self.train_split * self.n_points)

    @property
    def n_points(self) -> int:
        """len(arange(start, end, step))."""
        return max(0, math.ceil((self.end - self.start) / self.step))


def _flag(name: str) -> str:
    return name.replace("_", "-")


def field_comments(cls: type) -> dict[str, str]:
    """Each field's trailing comment in the class source: the one place a setting is explained."""
    import inspect

    comments: dict[str, str] = {}
    name = None
    for tok in tokenize.generate_tokens(io.StringIO(inspect.getsource(cls)).readline):
        if tok.type == tokenize.NAME and tok.start[1] == 4 and name is None:
            name = tok.string
        elif tok.type == tokenize.COMMENT and name is not None:
            comments[name] = tok.string.lstrip("# ").strip()
        if tok.type in (tokenize.NEWLINE, tokenize.NL):
            name = None
    return {f.name: comments[f.name] for f in fields(cls) if f.name in comments}


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"--{name} {value!r} is unknown; choose one of {', '.join(allowed)}")
