"""Pictures of a run: predictions, loss curves, parameter paths, the loss landscape, benchmarks.

Every figure is a function returning a matplotlib Figure (object-oriented API, for notebooks);
`write_run_figures` saves the run's four as PNGs. Sizes are 11×7.5 in at 100 dpi: 1100×750 px.
"""

from __future__ import annotations

import functools
import io
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")  # headless: render to files, never try to open a window

import numpy as np
from matplotlib.figure import Figure

from compare.experiment import Comparison
from compare.files import atomic_write
from manual.losses import LOSSES

FIGSIZE = (11, 7.5)  # inches
MAX_PANELS = 8  # parameter panels; beyond this the figure shows the largest movers and a norm
LANDSCAPE_ROWS = 2000  # training rows the loss landscape is evaluated on (evenly spaced)
DPI = 100  # 1100 × 750 pixels
MANUAL = {"color": "tab:red", "marker": "x", "label": "manual (NumPy, by hand)"}
TORCH = {"color": "tab:orange", "marker": "o", "label": "torch (autograd)"}


def figure_grid(nrows: int = 1, sharex: bool = False) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    axes = fig.subplots(nrows, 1, squeeze=False, sharex=sharex)[:, 0]
    return fig, axes


def described(make: Callable[..., Figure]) -> Callable[..., Figure]:
    """The figure carries its alt text as its label: the first line of its maker's docstring.

    A notebook shows it as the image's alt text (compare.api registers the formatter).
    """
    alt = (make.__doc__ or make.__name__).strip().splitlines()[0].rstrip(".")

    @functools.wraps(make)
    def labelled(*args: Any, **kwargs: Any) -> Figure:  # noqa: ANN401
        fig = make(*args, **kwargs)
        fig.set_label(alt)
        return fig

    return labelled


def _epochs(c: Comparison) -> np.ndarray:
    return c.epochs  # every epoch, or every k-th of a long run


@described
def predictions_figure(c: Comparison) -> Figure:
    """The course's plot_predictions: train (blue), test (green), both sides' predictions.

    With more than one feature there is no line to draw over x: predicted y against true y.
    """
    if c.config.features > 1:
        return _predicted_vs_true(c)
    s = c.split
    fig, (ax,) = figure_grid()
    ax.scatter(s.X_train[:, 0], s.y_train[:, 0], c="b", s=12, label="Training data")
    ax.scatter(s.X_test[:, 0], s.y_test[:, 0], c="g", s=12, label="Testing data")
    test_x = s.X_test.astype(np.float64)
    m_pred = test_x @ c.manual.weight[-1] + c.manual.bias[-1]
    t_pred = test_x @ c.torch.weight[-1] + c.torch.bias[-1]
    # Crosses through hollow circles: both stay visible where they coincide.
    ax.scatter(test_x[:, 0], m_pred, s=80, marker="x", color=MANUAL["color"],
               label=f"Predictions, {MANUAL['label']}")  # fmt: skip
    ax.scatter(test_x[:, 0], t_pred, s=140, marker="o", facecolors="none",
               edgecolors=TORCH["color"], label=f"Predictions, {TORCH['label']}")  # fmt: skip
    if s.true_weight.size == 1:
        xs = np.linspace(c.config.start, c.config.end, 2)
        ys = s.true_weight[0] * xs + s.true_bias
        ax.plot(
            xs, ys, "k--", lw=1, label=f"True line y = {s.true_weight[0]:g}·x + {s.true_bias:g}"
        )
    ax.set_title(f"Test-set predictions after {c.config.epochs} epochs ({c.config.loss} loss)")
    ax.set_xlabel("x (first feature, unitless)")
    ax.set_ylabel("y (unitless)")
    ax.legend(prop={"size": 11})
    fig.tight_layout()
    return fig


def _predicted_vs_true(c: Comparison) -> Figure:
    s = c.split
    fig, (ax,) = figure_grid()
    test_x, y = s.X_test.astype(np.float64), s.y_test[:, 0].astype(np.float64)
    m_pred = test_x @ c.manual.weight[-1] + c.manual.bias[-1]
    t_pred = test_x @ c.torch.weight[-1] + c.torch.bias[-1]
    ax.scatter(y, m_pred, s=80, marker="x", color=MANUAL["color"], label=MANUAL["label"])
    ax.scatter(y, t_pred, s=140, marker="o", facecolors="none", edgecolors=TORCH["color"],
               label=TORCH["label"])  # fmt: skip
    lo, hi = float(min(y.min(), m_pred.min())), float(max(y.max(), m_pred.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="perfect prediction")
    ax.set_title(
        f"Test set after {c.config.epochs} epochs, {c.config.features} features: "
        "predicted against true y"
    )
    ax.set_xlabel("true y (unitless)")
    ax.set_ylabel("predicted y (unitless)")
    ax.legend(prop={"size": 11})
    fig.tight_layout()
    return fig


@described
def loss_curves_figure(c: Comparison) -> Figure:
    """Train and test loss per epoch for both sides (log scale), and their absolute difference."""
    fig, (top, bottom) = figure_grid(2, sharex=True)
    e = _epochs(c)
    for t, style, ls in ((c.manual, MANUAL, "-"), (c.torch, TORCH, ":")):
        name = style["label"].split(" ")[0]
        top.plot(e, t.train_loss, ls, color=style["color"], lw=2, label=f"train, {name}")
        top.plot(e, t.test_loss, ls, color=style["color"], lw=1, alpha=0.6, label=f"test, {name}")
    top.set_yscale("log")
    top.set_ylabel(f"{c.config.loss} loss (log scale)")
    top.set_title("Loss per epoch: train before each step, test after it")
    top.legend()
    train_diff, test_diff = c.loss_diff
    bottom.plot(e, train_diff, label="|Δ train loss|")
    bottom.plot(e, test_diff, label="|Δ test loss|")
    bottom.set_ylabel("|manual − torch|")
    bottom.set_xlabel("epoch")
    bottom.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    bottom.legend()
    fig.tight_layout()
    return fig


@described
def parameters_figure(c: Comparison) -> Figure:
    """Each weight and the bias per epoch, both sides; true values dashed, the optimum dotted.

    With more than MAX_PANELS parameters: the weights that moved most, the distance ‖w − w*‖
    to the optimum (or to the true weights), and the bias.
    """
    d = c.config.features
    truths = [*c.split.true_weight, c.split.true_bias]
    optimum = None if c.closed_form is None else [*c.closed_form[0], c.closed_form[1]]
    panels: list[tuple[str, np.ndarray, np.ndarray, float | None, float | None]] = []
    if d + 1 <= MAX_PANELS:
        shown = list(range(d))
    else:
        moved = np.abs(c.manual.weight[-1] - c.initial_weight)
        shown = sorted(np.argsort(moved)[::-1][: MAX_PANELS - 2].tolist())
    for j in shown:
        opt_j = None if optimum is None else optimum[j]
        panels.append((f"w[{j}]", c.manual.weight[:, j], c.torch.weight[:, j], truths[j], opt_j))
    if len(shown) < d:
        target = c.split.true_weight if c.closed_form is None else c.closed_form[0]
        name = "‖w − w*‖" if c.closed_form is not None else "‖w − w_true‖"
        panels.append((
            name,
            np.linalg.norm(c.manual.weight - target, axis=1),
            np.linalg.norm(c.torch.weight - target, axis=1),
            0.0, None,
        ))  # fmt: skip
    best_b = None if optimum is None else optimum[-1]
    panels.append(("b", c.manual.bias, c.torch.bias, truths[-1], best_b))
    fig, axes = figure_grid(len(panels), sharex=True)
    e = _epochs(c)
    for ax, (name, m, t, truth, best) in zip(axes, panels, strict=True):
        ax.plot(e, m, "-", color=MANUAL["color"], lw=2.5, label=MANUAL["label"])
        ax.plot(e, t, "--", color=TORCH["color"], lw=1.5, label=TORCH["label"])
        if truth is not None:
            ax.axhline(truth, color="k", ls="--", lw=1, label="true value")
        if best is not None:
            ax.axhline(best, color="tab:purple", ls=":", lw=1.5, label="closed-form optimum")
        ax.set_ylabel(name)
    title = "Parameters after each epoch"
    if len(shown) < d:
        title += f" ({len(shown)} of {d} weights: those that moved most)"
    axes[0].set_title(title)
    axes[0].legend(fontsize=9, ncol=2)
    axes[-1].set_xlabel("epoch")
    fig.tight_layout()
    return fig


@described
def loss_landscape_figure(c: Comparison, grid: int = 120) -> Figure:
    """Contours of the training loss over (w, b), with both trajectories on top. d = 1 only."""
    if c.config.features != 1:
        raise ValueError("the loss landscape is drawn over (w, b), so it needs --features 1")
    rows = np.unique(np.linspace(0, len(c.split.X_train) - 1, LANDSCAPE_ROWS).astype(int))
    x = c.split.X_train[rows, 0].astype(np.float64)
    y = c.split.y_train[rows, 0].astype(np.float64)
    ws = np.concatenate([[c.initial_weight[0]], c.manual.weight[:, 0], c.split.true_weight])
    bs = np.concatenate([[c.initial_bias], c.manual.bias, [c.split.true_bias]])
    pad_w, pad_b = 0.3 * np.ptp(ws) + 0.1, 0.3 * np.ptp(bs) + 0.1
    W, B = np.meshgrid(
        np.linspace(ws.min() - pad_w, ws.max() + pad_w, grid),
        np.linspace(bs.min() - pad_b, bs.max() + pad_b, grid),
    )
    loss = LOSSES[c.config.loss]
    # One grid row at a time: (grid, rows) predictions, never (grid², rows).
    Z = np.array(
        [
            [loss.value(row, y[None, :]) for row in np.outer(rw, x) + rb[:, None]]
            for rw, rb in zip(W, B, strict=True)
        ]
    )
    fig, (ax,) = figure_grid()
    cs = ax.contourf(W, B, Z, levels=30, cmap="viridis", alpha=0.85)
    ax.contour(W, B, Z, levels=15, colors="white", linewidths=0.5, alpha=0.6)
    fig.colorbar(cs, ax=ax, label=f"{c.config.loss} training loss")
    for t, style, lw in ((c.manual, MANUAL, 3.0), (c.torch, TORCH, 1.2)):
        path_w = np.concatenate([[c.initial_weight[0]], t.weight[:, 0]])
        path_b = np.concatenate([[c.initial_bias], t.bias])
        ax.plot(path_w, path_b, "-", color=style["color"], lw=lw, label=f"path, {style['label']}")
        step = max(1, len(path_w) // 12)
        for i in range(0, len(path_w) - 1, step):
            ax.annotate(
                "", xy=(path_w[i + 1], path_b[i + 1]), xytext=(path_w[i], path_b[i]),
                arrowprops={"arrowstyle": "->", "color": style["color"], "lw": lw * 0.6},
            )  # fmt: skip
    ax.plot(c.initial_weight[0], c.initial_bias, "o", ms=10, color="white", mec="k", label="start")
    ax.plot(
        c.manual.weight[-1, 0], c.manual.bias[-1], "s", ms=9, color="tab:red", mec="k", label="end"
    )
    if c.closed_form is not None:
        star_w, star_b, which = c.closed_form[0][0], c.closed_form[1], "closed form"
    else:
        star_w, star_b, which = c.split.true_weight[0], c.split.true_bias, "true line"
    ax.plot(star_w, star_b, "*", ms=16, color="gold", mec="k", label=f"optimum ({which})")
    ax.set_title(f"{c.config.loss} loss landscape over (w, b), lr = {c.config.lr}")
    ax.set_xlabel("weight w")
    ax.set_ylabel("bias b")
    ax.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    return fig


@described
def bench_figure(rows: Sequence[dict[str, Any]], busy: Sequence[str] = ()) -> Figure:
    """Time per step against N, log-log, one line per implementation (whiskers: its min to
    max), grouped by side, and the memory floor; a busy machine's reasons above the chart."""
    from compare.bench.config import IMPLS

    fig, (ax,) = figure_grid()
    present = {str(r["impl"]) for r in rows}
    impls = [i for i in IMPLS if i in present] + sorted(present - set(IMPLS))
    hand = [i for i in impls if i.startswith("manual")]
    colors = {i: c for i, c in zip(hand, ("tab:red", "tab:brown", "salmon"), strict=False)}
    blues = ("tab:blue", "tab:cyan", "navy", "tab:purple", "tab:green", "teal")
    colors |= {i: c for i, c in zip([i for i in impls if i not in hand], blues, strict=False)}
    handles: list[Any] = []
    for k, impl in enumerate(impls):
        mine = sorted((r for r in rows if r["impl"] == impl), key=lambda r: r["n"])
        # Each line a little apart along N, so the whiskers of neighbours never merge.
        shift = 1.0 + 0.035 * (k - (len(impls) - 1) / 2)
        ns = [r["n"] * shift for r in mine]
        medians = [r["median_s"] for r in mine]
        spread = None
        if all("min_s" in r for r in mine):
            spread = [
                [m - r["min_s"] for m, r in zip(medians, mine, strict=True)],
                [r["max_s"] - m for m, r in zip(medians, mine, strict=True)],
            ]
        side = "by hand" if impl in hand else "torch"
        bars = ax.errorbar(ns, medians, yerr=spread, fmt="o-", capsize=3, lw=1.5, ms=4,
                           color=colors.get(impl), label=f"{side}: {impl}")  # fmt: skip
        handles.append(bars)
    floor = sorted({(r["n"], r["floor_s"]) for r in rows})
    (floor_line,) = ax.plot(
        [n for n, _ in floor],
        [f for _, f in floor],
        "k--",
        lw=2,
        label="floor: stream X and y once",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N, training points")
    ax.set_ylabel("time per training step (seconds)")
    first = rows[0] if rows else {}
    where = f"{first.get('loss', '')} loss, {first.get('dtype', '')}, {first.get('device', '')}"
    ax.set_title(f"One full-batch training step ({where}): median time per implementation")
    ax.grid(True, which="both", alpha=0.3)
    handles.append(floor_line)  # in IMPLS order, the hand side first, then torch's, then floor
    ax.legend(handles=handles, loc="upper left", fontsize=9)
    top = 1.0
    if busy:  # above the axes, in space kept for it: it never covers a line
        top = 0.9
        fig.text(0.5, 0.985, "BUSY MACHINE: " + "; ".join(busy), ha="center", va="top",
                 color="tab:red", wrap=True, fontsize=10,
                 bbox={"facecolor": "white", "edgecolor": "tab:red"})  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, top))
    return fig


RUN_FIGURES = {
    "predictions.png": predictions_figure,
    "loss_curves.png": loss_curves_figure,
    "parameters.png": parameters_figure,
    "loss_landscape.png": loss_landscape_figure,
}


def figures_for(c: Comparison) -> dict[str, Callable[[Comparison], Figure]]:
    """The run's figures by file name; the landscape is drawn over (w, b), so only when d = 1."""
    return {
        name: make
        for name, make in RUN_FIGURES.items()
        if make is not loss_landscape_figure or c.config.features == 1
    }


def write_run_figures(c: Comparison, out: Path) -> list[Path]:
    """Save the run's figures into `out` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in figures_for(c).items():
        path = out / name
        save_png(make(c), path)
        written.append(path)
    return written


def save_png(fig: Figure, path: Path) -> None:
    """Render to memory, then write atomically: a crash never leaves half a PNG.

    The folder is made here, with the file: a run stopped before its figures leaves none.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buffer.getvalue())


def show(c: Comparison) -> None:
    """Open the run's figures in windows when a display exists; say so when none does."""
    import matplotlib.pyplot as plt

    if matplotlib.get_backend().lower() == "agg":
        print("gradcompare: no display found; the figures were only written", file=sys.stderr)
        return
    for name, make in figures_for(c).items():
        fig = make(c)
        # Give our pyplot-free Figure a window: borrow a pyplot figure's canvas and manager.
        manager = plt.figure(num=name, figsize=FIGSIZE).canvas.manager
        if manager is None:  # a backend without windows after all
            return
        manager.canvas.figure = fig
        fig.set_canvas(manager.canvas)
    plt.show()
