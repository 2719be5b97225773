"""The benchmark's tables: time per step, its ratio to autograd and to the memory floor."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table


def _seconds(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def _bytes(b: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} B"


def bench_table(result: dict[str, Any]) -> Table:
    """One row per (N, implementation): median, spread, fresh bytes, and the ratios."""
    m = result["machine"]
    table = Table(
        title=f"One training step ({result['optimizer']}), median of interleaved repeats",
        caption=f"{m['cpu']}, {m['cores']} cores, torch threads {m['torch_threads']}; floor: "
        f"one stream reads {m['read_bandwidth_gb_s']} GB/s at the start, "
        f"{m['read_bandwidth_end_gb_s']} GB/s at the end ({m['read_bandwidth_all_threads_gb_s']}"
        f" GB/s all threads); a fresh page costs {m['fresh_page_us_per_mb']} µs/MB; "
        f"torch {m['torch']}, numpy {m['numpy']}",
        box=box.SIMPLE_HEAD,
    )
    kept = any("keep_freed_median_s" in r for r in result["rows"])
    cols = ["N", "implementation", "time / step", "min … max", "fresh / step",
            "× torch_autograd", "× floor"]  # fmt: skip
    if kept:
        cols += ["kept freed", "speed-up"]
    for col in cols:
        table.add_column(col, justify="left" if col == "implementation" else "right")
    last_n = None
    for r in result["rows"]:
        ratio = r["ratio_to_autograd"]
        cells = [
            f"{r['n']:,}" if r["n"] != last_n else "",
            r["impl"],
            _seconds(r["median_s"]),
            f"{_seconds(r['min_s'])} … {_seconds(r['max_s'])}",
            _bytes(r["fresh_bytes"]),
            "" if ratio is None else f"{ratio:.2f}",
            f"{r['ratio_to_floor']:.3g}",
        ]
        if kept:
            cells += [_seconds(r["keep_freed_median_s"]), f"{r['keep_freed_speedup']:.2f}×"]
        table.add_row(*cells, end_section=False)
        last_n = r["n"]
    for what, s in result["compile_s"].items():
        n, _, impl = what.partition(" ")
        table.add_row(f"{int(n):,}", f"{impl}: compile", _seconds(s), *[""] * (len(cols) - 3))
    return table


def busy_warning(result: dict[str, Any]) -> str | None:
    """One line when the machine was busy and the ratios may not hold, else None."""
    m = result["machine"]
    if not m.get("busy"):
        return None
    return "warning: the machine was busy, so the ratios may not hold: " + "; ".join(
        m["busy_reasons"]
    )


def breakdown_table(result: dict[str, Any]) -> Table:
    """Where torch_autograd's step spends its time, by phase, and its page faults."""
    table = Table(title="torch_autograd step by phase (median)", box=box.SIMPLE_HEAD)
    phases = ("forward", "loss", "zero_grad", "backward", "step")
    for col in ("N", *phases, "page faults / step"):
        table.add_column(col, justify="right")
    for b in result["breakdown"]:
        table.add_row(
            f"{b['n']:,}",
            *(_seconds(b["phases"][p]) for p in phases),
            f"{b['minor_faults_per_step']:.0f}",
        )
    return table
