"""Time one training step of every implementation, interleaved, against a measured memory floor.

Times are medians over interleaved repeats (A B C A B C …), so slow drifts of a shared machine
hit every implementation alike; results are reported as ratios measured in the same run.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
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


PAGE = resource.getpagesize()
BUSY_OTHERS = 0.25  # cores' worth of other processes' CPU use that makes the machine busy
BUSY_DRIFT = 0.15  # relative change of the floor between the start and the end of a run
BUSY_SPREAD = 0.25  # a row's IQR over its median that marks its own spread wide (not busy)


class CpuWatch:
    """Other processes' CPU use during a run, from /proc/stat minus this process's own."""

    def __init__(self) -> None:
        self.start = self._snapshot()

    @staticmethod
    def _snapshot() -> tuple[float, float, float]:
        busy = math.nan
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
            idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
            busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        mine = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
        return time.monotonic(), busy, mine

    def others_cores(self) -> float:
        """Average number of cores other processes kept busy since the watch started."""
        t0, busy0, mine0 = self.start
        t1, busy1, mine1 = self._snapshot()
        return max(0.0, ((busy1 - busy0) - (mine1 - mine0)) / max(t1 - t0, 1e-9))


def fresh_page_cost(nbytes: int = 64 << 20, repeats: int = 5) -> float:
    """µs per MB of writing into freshly mapped pages, beyond writing into reused ones."""
    reused = np.empty(nbytes // 4, dtype=np.float32)
    reused.fill(1)
    fresh_s, reuse_s = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        buf = np.empty(nbytes // 4, dtype=np.float32)  # large: mmap'd, every page faults
        buf.fill(1)
        fresh_s.append(time.perf_counter() - start)
        del buf
        start = time.perf_counter()
        reused.fill(1)
        reuse_s.append(time.perf_counter() - start)
    extra = max(0.0, float(np.median(fresh_s)) - float(np.median(reuse_s)))
    return extra / (nbytes / 1e6) * 1e6


def run_bench(cfg: BenchConfig, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Time every implementation at every size; returns rows, machine, compile times, breakdowns.

    Each row carries its spread over the repeats and the fresh bytes one step maps in; the
    machine carries the floor measured at the start and at the end, other processes' CPU use
    during the run, and `busy` with its reasons when any of those make the ratios doubtful.
    """
    torch.set_num_threads(cfg.threads)
    watch = CpuWatch()
    # The floor is one stream reading X and y (a NumPy reduction's pass). Threaded code can read
    # faster than one stream, so the all-threads floor is reported beside it.
    bandwidth = read_bandwidth(cfg.device, 1)
    bandwidth_all = read_bandwidth(cfg.device, cfg.threads)
    page_cost = fresh_page_cost()
    rows: list[dict[str, Any]] = []
    compile_times: dict[str, float] = {}
    breakdowns: list[dict[str, Any]] = []
    for n in cfg.sizes:
        X, y, w0, b0 = bench_data(n, cfg.features, cfg.dtype)
        floor_s = (X.nbytes + y.nbytes) / bandwidth
        steps = make_steps(X, y, w0, b0, cfg)
        for s in steps.values():
            if s.compile_s is not None:
                compile_times[f"{n} {s.name}"] = s.compile_s
        inner = {}
        for name, s in steps.items():
            s.run()  # warm up: first-call allocations, lazy initialisation
            inner[name] = max(1, min(10_000, math.ceil(SAMPLE_S / max(time_step(s, 1), 1e-9))))
        samples: dict[str, list[float]] = {name: [] for name in steps}
        faults: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(cfg.repeats):
            for name, s in steps.items():  # interleaved: A B C A B C …
                before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                samples[name].append(time_step(s, inner[name]))
                after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                faults[name].append((after - before) / inner[name])
                progress(f"N={n:,} {name}")
        for name, s in steps.items():
            s.close()
            times = np.array(samples[name])
            rows.append(
                {
                    "impl": name,
                    "n": n,
                    "loss": cfg.loss,
                    "dtype": cfg.dtype,
                    "device": cfg.device,
                    "median_s": float(np.median(times)),
                    "min_s": float(times.min()),
                    "max_s": float(times.max()),
                    "iqr_s": float(np.subtract(*np.percentile(times, [75, 25]))),
                    "fresh_bytes": float(np.median(faults[name])) * PAGE,
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
    bandwidth_end = read_bandwidth(cfg.device, 1)
    for row in rows:
        ref = next((r for r in rows if r["n"] == row["n"] and r["impl"] == REFERENCE), None)
        row["ratio_to_autograd"] = row["median_s"] / ref["median_s"] if ref else None
        row["ratio_to_floor"] = row["median_s"] / row["floor_s"]
    info = machine(cfg, bandwidth, bandwidth_all)
    info["read_bandwidth_end_gb_s"] = round(bandwidth_end / 1e9, 2)
    info["fresh_page_us_per_mb"] = round(page_cost, 1)
    info["others_cpu_cores"] = round(watch.others_cores(), 2)
    info["load_average"] = round(os.getloadavg()[0], 2)
    if cfg.keep_freed_memory:
        kept = run_keep_freed(cfg)
        merge_keep_freed(rows, kept["rows"])
        info["keep_freed_env"] = KEEP_FREED_ENV
    for row in rows:
        row["spread_wide"] = bool(row["iqr_s"] > BUSY_SPREAD * row["median_s"])
    reasons = busy_reasons(rows, info, bandwidth, bandwidth_end)
    info["busy"] = bool(reasons)
    info["busy_reasons"] = reasons
    return {
        "rows": rows,
        "machine": info,
        "compile_s": compile_times,
        "breakdown": breakdowns,
        "optimizer": cfg.optimizer,
    }


# glibc hands a freed block over its mmap threshold back to the OS, so a 40 MB temporary is
# faulted in afresh on every step; with these it stays in the heap and is reused.
KEEP_FREED_ENV = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "68719476736"}


def run_keep_freed(cfg: BenchConfig) -> dict[str, Any]:
    """The same bench in a child process whose glibc keeps freed memory for reuse."""
    settings = {**asdict(replace(cfg, keep_freed_memory=False))}
    done = subprocess.run(
        [sys.executable, "-m", "compare.bench.child"],
        input=json.dumps(settings), env={**os.environ, **KEEP_FREED_ENV},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the --keep-freed-memory run failed: {last}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def merge_keep_freed(rows: list[dict[str, Any]], other: list[dict[str, Any]]) -> None:
    """Put the keep-freed timing beside each default row, with the speed-up between them."""
    by_key = {(r["impl"], r["n"]): r for r in other}
    for row in rows:
        kept = by_key.get((row["impl"], row["n"]))
        if kept is None:
            continue
        row["keep_freed_median_s"] = kept["median_s"]
        row["keep_freed_fresh_bytes"] = kept["fresh_bytes"]
        row["keep_freed_speedup"] = row["median_s"] / kept["median_s"]


def busy_reasons(
    rows: list[dict[str, Any]], info: dict[str, Any], start: float, end: float
) -> list[str]:
    """Why the ratios may not hold: other processes competing, or the floor drifting.

    A row's own wide spread is not a sign of a busy machine: the readable step at N = 10⁷
    spreads on a quiet one too (glibc alternating between fresh pages and reused ones).
    It is that row's, and is reported on the row (`spread_wide`), never as busy.
    """
    reasons = []
    others = float(info["others_cpu_cores"])
    if others > BUSY_OTHERS:
        reasons.append(f"other processes used {others:.2f} cores during the run")
    drift = abs(end - start) / start
    if drift > BUSY_DRIFT:
        reasons.append(
            f"the floor moved {drift:.0%} between the start and the end "
            f"({start / 1e9:.1f} → {end / 1e9:.1f} GB/s)"
        )
    return reasons
