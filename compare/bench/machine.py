"""What the machine can do, and whether it stayed quiet: bandwidth, page cost, others' CPU."""

from __future__ import annotations

import math
import os
import platform
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any

import numpy as np
import torch

from compare.bench.config import BenchConfig


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
