"""What a run prints: a rich table for people, one JSON object for programs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table

from compare.config import RunConfig
from compare.experiment import Comparison, Trajectory
from compare.gradcheck import GradRow


def _table(title: str) -> Table:
    return Table(
        title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True
    )


def shown_epochs(epochs: int, rows: int = 10) -> list[int]:
    """Every k-th epoch as the course prints them (0, 10, 20, …), plus the last."""
    every = max(1, epochs // rows)
    shown = list(range(0, epochs, every))
    return shown if shown[-1] == epochs - 1 else [*shown, epochs - 1]


def shown_rows(c: Comparison) -> list[tuple[int, int]]:
    """(row, epoch) pairs to print: the course's every-k-th epochs, or the nearest kept ones."""
    wanted = shown_epochs(c.config.epochs)
    rows = np.searchsorted(c.epochs, wanted).clip(0, len(c.epochs) - 1)
    return [(int(r), int(c.epochs[r])) for r in dict.fromkeys(rows.tolist())]


def epoch_table(c: Comparison) -> Table:
    """Both sides' losses and their parameter gap, epoch by epoch."""
    table = _table("Epoch by epoch (train loss before the step, test loss after)")
    table.add_column("epoch", justify="right")
    for col in ("train manual", "train torch", "test manual", "test torch", "max|Δw|", "|Δb|"):
        table.add_column(col, justify="right")
    for e, epoch in shown_rows(c):
        table.add_row(
            str(epoch),
            f"{c.manual.train_loss[e]:.8f}",
            f"{c.torch.train_loss[e]:.8f}",
            f"{c.manual.test_loss[e]:.8f}",
            f"{c.torch.test_loss[e]:.8f}",
            f"{c.weight_diff[e]:.1e}",
            f"{c.bias_diff[e]:.1e}",
        )
    return table


SHOWN_WEIGHTS = 4  # a report lists this many weights, then the norm; --json gives them all


def fmt(values: np.ndarray) -> str:
    """Weights as text: all of a few, or the first SHOWN_WEIGHTS and the norm of all."""
    flat = np.ravel(values)
    head = ", ".join(f"{v:.4f}" for v in flat[:SHOWN_WEIGHTS])
    if flat.size <= SHOWN_WEIGHTS:
        return head
    return f"{head}, … ({flat.size} weights, ‖w‖ = {float(np.linalg.norm(flat)):.4f})"


def history_table(impl: str, first_epoch: int, t: Trajectory) -> Table:
    """One implementation's losses, epoch by epoch (numbered from the resume point)."""
    table = _table(f"{impl}: epoch by epoch")
    for col in ("epoch", "train loss", "test loss", "weight", "bias"):
        table.add_column(col, justify="right")
    for e in shown_epochs(len(t.train_loss)):
        table.add_row(
            str(first_epoch + e),
            f"{t.train_loss[e]:.8f}",
            f"{t.test_loss[e]:.8f}",
            fmt(t.weight[e]),
            f"{t.bias[e]:.4f}",
        )
    return table


def parameter_rows(c: Comparison) -> list[tuple[str, str, str]]:
    """(name, weights, bias) for the true, starting, learned and (MSE) optimal parameters."""
    rows = [
        ("true", c.split.true_weight, c.split.true_bias),
        ("start", c.initial_weight, c.initial_bias),
        ("manual", c.manual.weight[-1], c.manual.bias[-1]),
        ("torch", c.torch.weight[-1], c.torch.bias[-1]),
    ]
    if c.closed_form is not None:
        rows.append(("closed form", c.closed_form[0], c.closed_form[1]))
    return [(name, fmt(w), f"{float(b):.4f}") for name, w, b in rows]


def parameter_table(c: Comparison) -> Table:
    """True, starting, learned and (for MSE) optimal parameters side by side."""
    table = _table("Parameters")
    table.add_column("")
    table.add_column("weight", justify="right")
    table.add_column("bias", justify="right")
    for row in parameter_rows(c):
        table.add_row(*row)
    return table


def gradient_table(rows: list[GradRow]) -> Table:
    """cmp-style: hand against autograd and against central differences."""
    table = _table("Gradient check at the start (float64)")
    for col in ("", "hand", "autograd", "numeric", "exact", "close", "maxdiff", "≈ num"):
        table.add_column(col, justify="right")
    weights = [r for r in rows if r.name.startswith("dw")]
    hidden = weights[SHOWN_WEIGHTS:]
    shown = [r for r in rows if r not in hidden]
    for r in shown:
        if hidden and r.name == "db":
            table.add_row(
                f"… {len(hidden)} more dw", "", "", "",
                str(all(h.vs_autograd.exact for h in hidden)),
                str(all(h.vs_autograd.close for h in hidden)),
                f"{max(h.vs_autograd.maxdiff for h in hidden):.1e}",
                str(all(h.vs_numeric.close for h in hidden)),
            )  # fmt: skip
        table.add_row(
            r.name,
            f"{r.hand:+.8f}",
            f"{r.autograd:+.8f}",
            f"{r.numeric:+.8f}",
            str(r.vs_autograd.exact),
            str(r.vs_autograd.close),
            f"{r.vs_autograd.maxdiff:.1e}",
            str(r.vs_numeric.close),
        )
    return table


def verdict(c: Comparison) -> str:
    """One line: do the two implementations agree, and by how much."""
    tol = c.tolerance
    limit = f"atol {tol.atol:.0e} + rtol {tol.rtol:.0e} ({c.config.dtype})"
    worst = c.max_param_diff
    loss = max(c.max_loss_diff)
    if c.agree:
        return (
            f"AGREE: manual and torch stay within {limit} for all {c.config.epochs} epochs; "
            f"max |Δparam| = {worst:.2e}, max |Δloss| = {loss:.2e}"
        )
    return (
        f"DISAGREE: the parameters first differ beyond {limit} at epoch "
        f"{c.first_divergence_epoch}; max |Δparam| = {worst:.2e}"
    )


def print_header(cfg: RunConfig, device: str, console: Console, impl: str = "") -> None:
    """The run's first two lines, printed before training starts (`impl`: one side only)."""
    console.print(
        f"[bold]{cfg.loss}[/] loss · {cfg.optimizer} lr={cfg.lr}"
        + "".join(f" {key}={value}" for key, value in cfg.optim_args)
        + (f" · {cfg.scheduler}" if cfg.scheduler else "")
        + "".join(f" {key}={value}" for key, value in cfg.scheduler_args)
        + f" · {cfg.epochs} epochs · "
        f"{cfg.dtype} on {device} · {cfg.model} model · seed {cfg.seed}"
    )
    n_train = cfg.n_train
    console.print(
        f"data: {n_train} train / {cfg.n_points - n_train} test points, "
        f"{cfg.features} feature{'' if cfg.features == 1 else 's'}, noise {cfg.noise}, "
        + (f"batches of {cfg.batch_size}" if cfg.batch_size else "full batch")
        + (", shuffled" if cfg.shuffle else "")
        + (f"; {impl} only" if impl else "")
    )


def print_report(c: Comparison, grads: list[GradRow], console: Console) -> None:
    """The human-readable report of one run, after its header."""
    console.print(epoch_table(c))
    console.print(parameter_table(c))
    console.print(gradient_table(grads))
    console.print(verdict(c), style="bold green" if c.agree else "bold red")


def comparison_html(c: Comparison) -> str:
    """The verdict, the parameters and the epoch table, as HTML for a notebook."""
    color = "#1b5e20" if c.agree else "#b71c1c"
    params = "".join(
        f"<tr><td>{n}</td><td>{w}</td><td>{b}</td></tr>" for n, w, b in parameter_rows(c)
    )
    epochs = "".join(
        f"<tr><td>{epoch}</td><td>{c.manual.train_loss[e]:.8f}</td><td>{c.torch.train_loss[e]:.8f}</td>"
        f"<td>{c.manual.test_loss[e]:.8f}</td><td>{c.torch.test_loss[e]:.8f}</td>"
        f"<td>{c.weight_diff[e]:.1e}</td><td>{c.bias_diff[e]:.1e}</td></tr>"
        for e, epoch in shown_rows(c)
    )
    names = ("epoch", "train manual", "train torch", "test manual", "test torch", "max|Δw|", "|Δb|")
    head = "".join(f"<th>{h}</th>" for h in names)
    return (
        f"<p style='color:{color}'><b>{verdict(c)}</b></p>"
        f"<table><tr><th></th><th>weight</th><th>bias</th></tr>{params}</table>"
        f"<table><tr>{head}</tr>{epochs}</table>"
    )


def side_json(t: Trajectory) -> dict[str, Any]:
    return {
        "weight": t.weight[-1].tolist(),
        "bias": float(t.bias[-1]),
        "train_loss": t.train_loss.tolist(),
        "test_loss": t.test_loss.tolist(),
    }


def to_json(c: Comparison, grads: list[GradRow]) -> dict[str, Any]:
    """Everything a program needs to check the run, with full per-epoch histories."""
    closed = None
    if c.closed_form is not None:
        closed = {"weight": c.closed_form[0].tolist(), "bias": c.closed_form[1]}
    return {
        "config": asdict(c.config),
        "device": c.device,
        "initial": {"weight": c.initial_weight.tolist(), "bias": c.initial_bias},
        "true": {"weight": c.split.true_weight.tolist(), "bias": c.split.true_bias},
        "manual": side_json(c.manual),
        "torch": side_json(c.torch),
        "history_epochs": c.epochs.tolist(),  # the histories' epochs: all, or every k-th
        "max_abs_param_diff": c.max_param_diff,
        "max_abs_train_loss_diff": c.max_loss_diff[0],
        "max_abs_test_loss_diff": c.max_loss_diff[1],
        "first_divergence_epoch": c.first_divergence_epoch,
        "agree": c.agree,
        "tolerance": asdict(c.tolerance),
        "closed_form": closed,
        "gradient_check": [
            {
                "name": r.name,
                "hand": r.hand,
                "autograd": r.autograd,
                "numeric": r.numeric,
                "exact": r.vs_autograd.exact,
                "close": r.vs_autograd.close,
                "maxdiff": r.vs_autograd.maxdiff,
                "numeric_close": r.vs_numeric.close,
            }
            for r in grads
        ],
    }
