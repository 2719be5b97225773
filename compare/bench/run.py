"""Time one training step of every implementation, interleaved, against a measured memory floor.

Times are medians over interleaved repeats (A B C A B C …), so slow drifts of a shared machine
hit every implementation alike; results are reported as ratios measured in the same run.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import version
from typing import Any, NamedTuple

import numpy as np
import torch

from compare.bench.config import LR, REFERENCE, SAMPLE_S, BenchConfig
from manual.fast import ChunkedGradients, SufficientStatistics
from manual.gradients import gradients
from manual.losses import LOSSES
from manual.optim import SGD, Adam, init_state, step
from torch_impl import nograd
from torch_impl.compiled import compile_step
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

    else:

        def run() -> None:
            train_step(model, loss_fn, optimizer, Xt, yt)

    def current() -> tuple[np.ndarray, np.ndarray]:
        w, b = weight_and_bias(model)
        return w.detach().cpu().numpy().copy(), b.detach().cpu().numpy().copy()

    return Step(name, run, current, sync, compile_s)


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


def time_step(s: Step, inner: int) -> float:
    """Seconds per step, over `inner` back-to-back steps."""
    s.sync()
    start = time.perf_counter()
    for _ in range(inner):
        s.run()
    s.sync()
    return (time.perf_counter() - start) / inner


def read_bandwidth(device: str, threads: int, nbytes: int = 256 << 20) -> float:
    """Bytes per second for one streaming read of a buffer far larger than the caches."""
    if device == "cuda":
        on_gpu = torch.ones(nbytes // 4, device="cuda")
        on_gpu.sum()
        samples = []
        for _ in range(5):
            torch.cuda.synchronize()
            start = time.perf_counter()
            on_gpu.sum()
            torch.cuda.synchronize()
            samples.append(time.perf_counter() - start)
        return nbytes / float(np.median(samples))
    buf = np.ones(nbytes // 4, dtype=np.float32)
    parts = np.array_split(buf, threads)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(np.sum, parts))  # touch every page first
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            list(pool.map(np.sum, parts))
            samples.append(time.perf_counter() - start)
    return nbytes / float(np.median(samples))


@dataclass
class Breakdown:
    """Where the autograd step's time goes, per phase, and page faults per step."""

    n: int  # N
    phases: dict[str, float] = field(default_factory=dict)  # phase -> median seconds
    minor_faults_per_step: float = 0.0  # fresh pages the step touched


def breakdown(
    X: np.ndarray, y: np.ndarray, w0: np.ndarray, b0: np.ndarray, cfg: BenchConfig, repeats: int
) -> Breakdown:
    """Time forward, loss, zero_grad, backward and step of the course's step separately."""
    model, optimizer, loss_fn, Xt, yt, sync = _torch_setup(LinearRegressionModel, X, y, w0, b0, cfg)
    inner = max(1, min(1000, math.ceil(SAMPLE_S * 1e6 / max(len(X), 1))))
    samples: dict[str, list[float]] = {
        k: [] for k in ("forward", "loss", "zero_grad", "backward", "step")
    }
    faults = []
    for _ in range(repeats):
        totals = dict.fromkeys(samples, 0.0)
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(inner):
            marks = [time.perf_counter()]
            pred = model(Xt)
            sync()
            marks.append(time.perf_counter())
            loss = loss_fn(pred, yt)
            sync()
            marks.append(time.perf_counter())
            optimizer.zero_grad()
            marks.append(time.perf_counter())
            loss.backward()
            sync()
            marks.append(time.perf_counter())
            optimizer.step()
            sync()
            marks.append(time.perf_counter())
            for k, a, b in zip(samples, marks, marks[1:], strict=False):
                totals[k] += b - a
        faults.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / inner)
        for k in samples:
            samples[k].append(totals[k] / inner)
    return Breakdown(
        n=len(X),
        phases={k: float(np.median(v)) for k, v in samples.items()},
        minor_faults_per_step=float(np.median(faults)),
    )


def machine(cfg: BenchConfig, bandwidth: float, bandwidth_all: float) -> dict[str, object]:
    """What the numbers were measured on."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu
            )
    except OSError:
        pass
    info: dict[str, object] = {
        "cpu": cpu or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "numpy": version("numpy"),
        "torch": torch.__version__,
        "read_bandwidth_gb_s": round(bandwidth / 1e9, 2),  # one stream: the floor
        "read_bandwidth_all_threads_gb_s": round(bandwidth_all / 1e9, 2),
    }
    if cfg.device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def run_bench(cfg: BenchConfig, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Time every implementation at every size; returns rows, machine, compile times, breakdowns."""
    torch.set_num_threads(cfg.threads)
    # The floor is one stream reading X and y (a NumPy reduction's pass). Threaded code can read
    # faster than one stream, so the all-threads floor is reported beside it.
    bandwidth = read_bandwidth(cfg.device, 1)
    bandwidth_all = read_bandwidth(cfg.device, cfg.threads)
    rows: list[dict[str, Any]] = []
    compile_times: dict[str, float] = {}
    breakdowns: list[dict[str, Any]] = []
    for n in cfg.sizes:
        X, y, w0, b0 = bench_data(n, cfg.features, cfg.dtype)
        floor_s = (X.nbytes + y.nbytes) / bandwidth
        steps = make_steps(X, y, w0, b0, cfg)
        for s in steps.values():
            if s.compile_s is not None:
                compile_times[str(n)] = s.compile_s
        inner = {}
        for name, s in steps.items():
            s.run()  # warm up: first-call allocations, lazy initialisation
            inner[name] = max(1, min(10_000, math.ceil(SAMPLE_S / max(time_step(s, 1), 1e-9))))
        samples: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(cfg.repeats):
            for name, s in steps.items():  # interleaved: A B C A B C …
                samples[name].append(time_step(s, inner[name]))
                progress(f"N={n:,} {name}")
        for name, s in steps.items():
            s.close()
            rows.append(
                {
                    "impl": name,
                    "n": n,
                    "loss": cfg.loss,
                    "dtype": cfg.dtype,
                    "device": cfg.device,
                    "median_s": float(np.median(samples[name])),
                    "floor_s": floor_s,
                    "floor_all_threads_s": (X.nbytes + y.nbytes) / bandwidth_all,
                    "features": cfg.features,
                }
            )
        if REFERENCE in cfg.impls:
            bd = breakdown(X, y, w0, b0, cfg, repeats=max(3, cfg.repeats // 2))
            breakdowns.append(
                {"n": bd.n, "phases": bd.phases, "minor_faults_per_step": bd.minor_faults_per_step}
            )
    for row in rows:
        ref = next((r for r in rows if r["n"] == row["n"] and r["impl"] == REFERENCE), None)
        row["ratio_to_autograd"] = row["median_s"] / ref["median_s"] if ref else None
        row["ratio_to_floor"] = row["median_s"] / row["floor_s"]
    return {
        "rows": rows,
        "machine": machine(cfg, bandwidth, bandwidth_all),
        "compile_s": compile_times,
        "breakdown": breakdowns,
        "optimizer": cfg.optimizer,
    }
