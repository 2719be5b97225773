"""The benchmark's tables: time per step, its ratio to autograd and to the memory floor."""

from __future__ import annotations

from rich import box
from rich.table import Table


def _seconds(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def bench_table(result: dict) -> Table:
    """One row per (N, implementation): median time per step and the two ratios."""
    m = result["machine"]
    table = Table(
        title=f"One training step ({result['optimizer']}), median of interleaved repeats",
        caption=f"{m['cpu']}, {m['cores']} cores, torch threads {m['torch_threads']}, "
        f"read bandwidth {m['read_bandwidth_gb_s']} GB/s one stream (the floor), "
        f"{m['read_bandwidth_all_threads_gb_s']} GB/s all threads; "
        f"torch {m['torch']}, numpy {m['numpy']}",
        box=box.SIMPLE_HEAD,
    )
    for col in ("N", "implementation", "time / step", "× torch_autograd", "× floor"):
        table.add_column(col, justify="left" if col == "implementation" else "right")
    last_n = None
    for r in result["rows"]:
        ratio = r["ratio_to_autograd"]
        table.add_row(
            f"{r['n']:,}" if r["n"] != last_n else "",
            r["impl"],
            _seconds(r["median_s"]),
            "" if ratio is None else f"{ratio:.2f}",
            f"{r['ratio_to_floor']:.3g}",
            end_section=False,
        )
        last_n = r["n"]
    for n, s in result["compile_s"].items():
        table.add_row(f"{int(n):,}", "torch_compiled: compile", _seconds(s), "", "")
    return table


def breakdown_table(result: dict) -> Table:
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
