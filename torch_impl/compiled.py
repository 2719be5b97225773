"""The course's training step under torch.compile: the same five lines, fused into kernels."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from torch_impl.train import train_step


def compile_step() -> Callable[..., torch.Tensor]:
    """torch.compile(train_step); the first call compiles (seconds), later calls are fast."""
    # optimizer.step() opens a profiler range that dynamo drops, and says so once per process.
    logging.getLogger("torch._dynamo.variables.ctx_manager").setLevel(logging.ERROR)
    return torch.compile(train_step)
