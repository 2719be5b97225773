"""Time one training step of every implementation, interleaved, against a measured memory floor.

Times are medians over interleaved repeats (A B C A B C …), so slow drifts of a shared machine
hit every implementation alike; results are reported as ratios measured in the same run.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from compare.bench.config import REFERENCE, SAMPLE_S, BenchConfig
from compare.bench.machine import (
    BUSY_SPREAD,
    PAGE,
    CpuWatch,
    busy_reasons,
    fresh_page_cost,
    machine,
    read_bandwidth,
)
from compare.bench.steps import (
    Step,
    _torch_setup,
    bench_data,
    make_steps,
)
from torch_impl.model import LinearRegressionModel


def time_step(s: Step, inner: int) -> float:
    """Seconds per step, over `inner` back-to-back steps."""
    s.sync()
    start = time.perf_counter()
    for _ in range(inner):
        s.run()
    s.sync()
    return (time.perf_counter() - start) / inner


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
