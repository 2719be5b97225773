"""The benchmark's tables: time per step, its ratio to autograd and to the memory floor."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table


def seconds(s: float) -> str:
    """A duration in the unit that reads best: 13.2 ms, not 13232.7 µs."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def _bytes(b: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} B"


WIDE = 120  # columns from which the timing table is one table; below it, two narrower ones


def bench_tables(result: dict[str, Any], width: int = WIDE) -> list[Table]:
    """One row per (N, implementation): median and ratios, then spread and fresh bytes.

    At WIDE columns and more this is one table; narrower, two tables that each fit (an 80-
    column terminal shows every implementation's full name and each spread on one line).
    """
    m = result["machine"]
    caption = (
        f"{m['cpu']}, {m['cores']} cores, torch threads {m['torch_threads']}; floor: "
        f"one stream reads {m['read_bandwidth_gb_s']} GB/s at the start, "
        f"{m['read_bandwidth_end_gb_s']} GB/s at the end ({m['read_bandwidth_all_threads_gb_s']}"
        f" GB/s all threads); a fresh page costs {m['fresh_page_us_per_mb']} µs/MB; "
        f"torch {m['torch']}, numpy {m['numpy']}"
    )
    kept = any("keep_freed_median_s" in r for r in result["rows"])
    timing = ["time / step", "× autograd", "× floor"]
    spread = ["min … max", "fresh / step"] + (["kept freed", "speed-up"] if kept else [])
    title = f"One training step ({result['optimizer']}), median of interleaved repeats"
    if width >= WIDE:
        return [_rows_table(result, title, timing + spread, caption)]
    return [
        _rows_table(result, title, timing, ""),
        _rows_table(result, "Spread over the repeats (* wide), and memory mapped afresh per step",
                    spread, caption),
    ]  # fmt: skip


def _ratio(x: float) -> str:
    """3 significant digits, with thousands as 15,200 rather than 1.52e+04."""
    return f"{x:,.0f}" if x >= 1000 else f"{x:.3g}"


def compile_lines(result: dict[str, Any]) -> list[str]:
    """How long torch.compile took, one line per (N, implementation)."""
    out = []
    for what, s in result["compile_s"].items():
        n, _, impl = what.partition(" ")
        out.append(f"compile: {impl} at N = {int(n):,} took {seconds(s)}")
    return out


def _rows_table(result: dict[str, Any], title: str, cols: list[str], caption: str) -> Table:
    table = Table(title=title, caption=caption or None, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("N", justify="right", no_wrap=True)
    table.add_column("implementation", justify="left", no_wrap=True)
    for col in cols:
        table.add_column(col, justify="right", no_wrap=True)
    last_n = None
    for r in result["rows"]:
        ratio = r["ratio_to_autograd"]
        cells = {
            "time / step": seconds(r["median_s"]),
            "× autograd": "" if ratio is None else f"{ratio:.2f}",
            "× floor": _ratio(r["ratio_to_floor"]),
            "min … max": f"{seconds(r['min_s'])} … {seconds(r['max_s'])}"
            + (" *" if r.get("spread_wide") else ""),
            "fresh / step": _bytes(r["fresh_bytes"]),
        }
        if "keep_freed_median_s" in r:
            cells["kept freed"] = seconds(r["keep_freed_median_s"])
            cells["speed-up"] = f"{r['keep_freed_speedup']:.2f}×"
        n = f"{r['n']:,}" if r["n"] != last_n else ""
        table.add_row(n, r["impl"], *(cells.get(c, "") for c in cols), end_section=False)
        last_n = r["n"]
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
    for col in ("N", *phases, "faults / step"):
        table.add_column(col, justify="right")
    for b in result["breakdown"]:
        table.add_row(
            f"{b['n']:,}",
            *(seconds(b["phases"][p]) for p in phases),
            f"{b['minor_faults_per_step']:.0f}",
        )
    return table
