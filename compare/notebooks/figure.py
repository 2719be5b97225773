"""A notebook's diagnosis drawn: each loop's training loss, and its weight and bias, per step."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from compare.notebooks.report import NotebookReport
from compare.plots import MANUAL, TORCH, described, figure_grid


@described
def notebook_figure(report: NotebookReport) -> Figure:
    """Two panels: the loss each step trained on, and the parameters after each step."""
    fig, (ax_loss, ax_par) = figure_grid(2, sharex=False)
    for n, loop in enumerate(report.loops, start=1):
        verdict = "correct" if loop["correct"] else ", ".join(d["id"] for d in loop["diagnosis"])
        label = f"loop {n} (cell {loop['cell']}): {verdict}"
        values = np.array([np.nan if v is None else v for v in loop["loss_values"]], dtype=float)
        ax_loss.plot(np.arange(values.size), values, label=label)
        path = np.array(loop["trajectory"], dtype=float).reshape(len(loop["trajectory"]), -1)
        if path.size:
            ax_par.plot(path[:, 0], color=MANUAL["color"], label=f"loop {n} weight")
            ax_par.plot(path[:, -1], color=TORCH["color"], ls="--", label=f"loop {n} bias")
        line = loop.get("data", {}).get("line")
        if line:
            ax_par.axhline(line["weight"], color=MANUAL["color"], lw=0.6, ls=":")
            ax_par.axhline(line["bias"], color=TORCH["color"], lw=0.6, ls=":")
    ax_loss.set_title(f"{report.file}: the training loss at each step")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(fontsize=8)
    ax_par.set_title("weight and bias after each step (dotted: the line the data lie on)")
    ax_par.set_xlabel("step")
    ax_par.legend(fontsize=8)
    fig.tight_layout()
    return fig
