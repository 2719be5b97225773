"""The steps that are timed: one training step per implementation, on data made once."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np
import torch

from compare.bench.config import LR, BenchConfig
from manual.fast import ChunkedGradients, SufficientStatistics
from manual.gradients import gradients
from manual.losses import LOSSES
from manual.optim import SGD, Adam, init_state, step
from torch_impl import nograd
from torch_impl.compiled import compile_hand_step, compile_step
from torch_impl.device import DTYPES
from torch_impl.losses import make_loss
from torch_impl.model import LinearRegressionModel, LinearRegressionModelV2, weight_and_bias
from torch_impl.optim import OPTIMIZERS
from torch_impl.train import train_step


@dataclass
class Step:
    """One implementation's training step, ready to call repeatedly."""

    name: str  # implementation name
    run: Callable[[], None]  # one training step, in place
    params: Callable[[], tuple[np.ndarray, np.ndarray]]  # current (w, b), for checking
    sync: Callable[[], None] = lambda: None  # wait for queued GPU work
    compile_s: float | None = None  # seconds spent compiling, for torch_compiled
    close: Callable[[], None] = lambda: None  # release threads or buffers


def bench_data(n: int, d: int, dtype: str, seed: int = 0) -> tuple[np.ndarray, ...]:
    """N points near the course's line, and a fixed non-zero start (w0, b0)."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, d)).astype(dtype)
    y = (X @ np.full(d, 0.7) + 0.3 + 0.01 * rng.standard_normal(n)).astype(dtype)[:, None]
    return X, y, np.full(d, 0.3367, dtype=dtype), np.array([0.1288], dtype=dtype)


def _manual_opt(optimizer: str) -> SGD | Adam:
    return Adam(lr=LR) if optimizer == "adam" else SGD(lr=LR)


Grads = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray, np.ndarray]]


class _NumpyStepper:
    """A hand-derived step with its parameters and optimizer state kept between calls."""

    def __init__(self, grads: Grads, w0: np.ndarray, b0: np.ndarray, optimizer: str) -> None:
        self.grads, self.opt = grads, _manual_opt(optimizer)
        self.params: tuple[np.ndarray, ...] = (w0.copy(), b0.copy())
        self.state = init_state(self.opt, self.params)

    def run(self) -> None:
        _, dw, db = self.grads(self.params[0], self.params[1])
        self.params, self.state = step(self.params, (dw, db), self.state, self.opt)

    def current(self) -> tuple[np.ndarray, np.ndarray]:
        return self.params[0], self.params[1]


def _numpy_step(name: str, grads: Grads, w0: np.ndarray, b0: np.ndarray, optimizer: str) -> Step:
    stepper = _NumpyStepper(grads, w0, b0, optimizer)
    return Step(name, stepper.run, stepper.current)


class _TorchSetup(NamedTuple):
    model: torch.nn.Module  # started at (w0, b0)
    optimizer: torch.optim.Optimizer  # SGD or Adam, lr = LR
    loss_fn: torch.nn.Module  # the configured loss
    Xt: torch.Tensor  # X on the device
    yt: torch.Tensor  # y on the device
    sync: Callable[[], None]  # wait for queued GPU work (a no-op on the CPU)


def _start_at(model: torch.nn.Module, w0: np.ndarray, b0: np.ndarray) -> None:
    w, b = weight_and_bias(model)
    with torch.no_grad():
        w.copy_(torch.from_numpy(w0))
        b.copy_(torch.from_numpy(b0))


def _torch_setup(
    cls: type[torch.nn.Module], X: np.ndarray, y: np.ndarray, w0: np.ndarray, b0: np.ndarray,
    cfg: BenchConfig,
) -> _TorchSetup:  # fmt: skip
    """A torch model of `cls` at (w0, b0), its optimizer and loss, and the data on the device."""
    device = torch.device(cfg.device)
    model = cls(features=X.shape[1], dtype=DTYPES[cfg.dtype]).to(device)
    _start_at(model, w0, b0)
    return _TorchSetup(
        model,
        OPTIMIZERS[cfg.optimizer](model.parameters(), lr=LR),
        make_loss(cfg.loss),
        torch.from_numpy(X).to(device),
        torch.from_numpy(y).to(device),
        torch.cuda.synchronize if device.type == "cuda" else (lambda: None),
    )


def _torch_step(
    name: str, X: np.ndarray, y: np.ndarray, w0: np.ndarray, b0: np.ndarray, cfg: BenchConfig
) -> Step:
    cls = LinearRegressionModelV2 if name == "torch_linear" else LinearRegressionModel
    model, optimizer, loss_fn, Xt, yt, sync = _torch_setup(cls, X, y, w0, b0, cfg)
    params = list(model.parameters())
    compile_s = None
    if name == "torch_no_autograd":

        def run() -> None:
            nograd.step(Xt, yt, (params[0], params[1]), optimizer, cfg.loss)

    elif name == "torch_compiled":
        compiled = compile_step()
        start = time.perf_counter()
        for _ in range(2):  # the first step and the later ones (optimizer state exists) compile
            compiled(model, loss_fn, optimizer, Xt, yt)
        sync()
        compile_s = time.perf_counter() - start
        _start_at(model, w0, b0)  # start again from (w0, b0), as every other implementation
        optimizer.state.clear()

        def run() -> None:
            compiled(model, loss_fn, optimizer, Xt, yt)

    elif name == "torch_compiled_no_autograd":
        hand = _HandStep(params[0].detach(), params[1].detach(), cfg, Xt, yt)
        start = time.perf_counter()
        for _ in range(2):  # compile, then check the compiled step is reused
            hand.run()
        sync()
        compile_s = time.perf_counter() - start
        _start_at(model, w0, b0)  # the detached tensors share the model's storage
        hand.reset()
        run = hand.run

    else:

        def run() -> None:
            train_step(model, loss_fn, optimizer, Xt, yt)

    def current() -> tuple[np.ndarray, np.ndarray]:
        w, b = weight_and_bias(model)
        return w.detach().cpu().numpy().copy(), b.detach().cpu().numpy().copy()

    return Step(name, run, current, sync, compile_s)


class _HandStep:
    """The compiled hand-derived step and its optimizer state (Adam's moments and t)."""

    def __init__(
        self, w: torch.Tensor, b: torch.Tensor, cfg: BenchConfig, X: torch.Tensor, y: torch.Tensor
    ) -> None:
        self.w, self.b, self.cfg, self.X, self.y = w, b, cfg, X, y
        self.compiled = compile_hand_step(cfg.optimizer)
        self.reset()

    def reset(self) -> None:
        self.t = 0
        self.moments = tuple(torch.zeros_like(p) for p in (self.w, self.b, self.w, self.b))

    def run(self) -> None:
        if self.cfg.optimizer != "adam":
            self.compiled(self.X, self.y, self.w, self.b, LR, self.cfg.loss)
            return
        self.t += 1
        b1, b2 = 0.9, 0.999  # torch.optim.Adam's defaults, as the other Adam steps use
        corrections = torch.tensor([1 - b1**self.t, math.sqrt(1 - b2**self.t)],
                                   dtype=self.w.dtype, device=self.w.device)  # fmt: skip
        self.compiled(self.X, self.y, (self.w, self.b), self.moments, corrections, LR,
                      self.cfg.loss)  # fmt: skip


def make_steps(
    X: np.ndarray, y: np.ndarray, w0: np.ndarray, b0: np.ndarray, cfg: BenchConfig
) -> dict[str, Step]:
    """Every requested implementation's step, each starting from (w0, b0) on the same data."""
    steps = {}
    for name in cfg.impls:
        if name == "manual":
            grads = partial(gradients, X, y, loss=LOSSES[cfg.loss])
            steps[name] = _numpy_step(name, grads, w0, b0, cfg.optimizer)
        elif name == "manual_fast":
            if cfg.loss == "mse":
                stats = SufficientStatistics(X, y)
                steps[name] = _numpy_step(name, stats, w0, b0, cfg.optimizer)
            else:
                chunked = ChunkedGradients(X, y, cfg.loss, threads=cfg.threads)
                steps[name] = _numpy_step(name, chunked, w0, b0, cfg.optimizer)
                steps[name].close = chunked.close
        else:
            steps[name] = _torch_step(name, X, y, w0, b0, cfg)
    return steps
