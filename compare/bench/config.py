"""What a benchmark run times, checked once here; importing it costs no torch."""

from __future__ import annotations

import os
from dataclasses import dataclass

from compare.config import DTYPE_NAMES, LOSS_NAMES, ConfigError, max_elements

IMPLS = (
    "manual",
    "manual_fast",
    "torch_autograd",
    "torch_linear",
    "torch_no_autograd",
    "torch_compiled",
    "torch_compiled_no_autograd",
)
REFERENCE = "torch_autograd"
DEFAULT_SIZES = (40, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)
SAMPLE_S = 2e-3  # each timing sample runs enough steps to last this long
LR = 0.01  # the course's


@dataclass(frozen=True)
class BenchConfig:
    """What to time; checked once, here, like RunConfig."""

    sizes: tuple[int, ...] = DEFAULT_SIZES  # N, training points
    loss: str = "l1"  # l1 | mse | huber
    dtype: str = "float32"  # float32 | float64
    device: str = "cpu"  # cpu | cuda, for the torch implementations
    repeats: int = 7  # interleaved samples per implementation and size
    threads: int = 2  # torch.set_num_threads, and manual_fast's thread count
    optimizer: str = "sgd"  # sgd | adam
    impls: tuple[str, ...] = IMPLS  # which implementations to time
    features: int = 1  # d
    keep_freed_memory: bool = False  # also time each step where glibc keeps freed memory

    def __post_init__(self) -> None:
        if not self.sizes or min(self.sizes) < 1:
            raise ConfigError(f"--sizes {list(self.sizes)}: give one or more N >= 1")
        for flag, value in (("--repeats", self.repeats), ("--threads", self.threads)):
            if value < 1:
                raise ConfigError(f"{flag} is {value}; give an integer >= 1")
        most = 4 * (os.cpu_count() or 1)
        if self.threads > most:
            raise ConfigError(
                f"--threads {self.threads}: at most {most} (4 per core on this machine)"
            )
        if self.features < 1:
            raise ConfigError(f"--features is {self.features}; use at least 1")
        biggest = max(self.sizes) * self.features
        if biggest > max_elements():
            raise ConfigError(
                f"--sizes {max(self.sizes)} × {self.features} feature(s) is {biggest:,} values, "
                f"over this machine's limit of {max_elements():,}; time smaller sizes"
            )
        unknown = set(self.impls) - set(IMPLS)
        if unknown or not self.impls:
            raise ConfigError(f"--impls: choose among {', '.join(IMPLS)}")
        for flag, choice, allowed in (
            ("--loss", self.loss, LOSS_NAMES),
            ("--dtype", self.dtype, DTYPE_NAMES),
            ("--device", self.device, ("cpu", "cuda")),
            ("--optimizer", self.optimizer, ("sgd", "adam")),
        ):
            if choice not in allowed:
                raise ConfigError(
                    f"{flag} {choice!r} is unknown; choose one of {', '.join(allowed)}"
                )
