"""The diagnosis drawn: a learner's parameter path against the hand-derived one."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from compare.diagnose.run import Diagnosis
from compare.plots import MANUAL, described, figure_grid
from manual.losses import LOSSES


@described
def diagnosis_figure(diag: Diagnosis) -> Figure:
    """A learner's parameter path against the hand-derived one, on the training loss landscape."""
    data, s = diag.data, diag.settings
    if data is None:
        raise ValueError("this diagnosis holds no data to draw")
    learner, reference = diag.learner_path, diag.reference_path
    fig, (ax,) = figure_grid()
    keep = np.all(np.isfinite(learner) & (np.abs(learner) < 1e3), axis=1)
    shown = learner[keep] if keep.any() else learner[:1]
    pts = np.vstack([shown, reference, [[0.7, 0.3]]])
    pad_w, pad_b = 0.3 * np.ptp(pts[:, 0]) + 0.1, 0.3 * np.ptp(pts[:, 1]) + 0.1
    W, B = np.meshgrid(
        np.linspace(pts[:, 0].min() - pad_w, pts[:, 0].max() + pad_w, 100),
        np.linspace(pts[:, 1].min() - pad_b, pts[:, 1].max() + pad_b, 100),
    )
    x, y = data.X_train[:, 0].astype(np.float64), data.y_train[:, 0].astype(np.float64)
    loss = LOSSES[s.loss]
    Z = np.array([[loss.value(row, y[None, :]) for row in np.outer(rw, x) + rb[:, None]]
                  for rw, rb in zip(W, B, strict=True)])  # fmt: skip
    cs = ax.contourf(W, B, Z, levels=30, cmap="viridis", alpha=0.85)
    fig.colorbar(cs, ax=ax, label=f"{s.loss} training loss")
    ax.plot(reference[:, 0], reference[:, 1], "-", color="white", lw=3, label="correct path")
    ax.plot(shown[:, 0], shown[:, 1], "-", color=MANUAL["color"], lw=1.8, label="your path")
    ax.plot(shown[:, 0], shown[:, 1], ".", color=MANUAL["color"], ms=4)
    ax.plot(learner[0, 0], learner[0, 1], "o", ms=10, color="white", mec="k", label="start")
    ax.plot(0.7, 0.3, "*", ms=16, color="gold", mec="k", label="true line (0.7, 0.3)")
    ids = ", ".join(f.id for f in diag.diagnosis) or ("correct" if diag.correct else "unknown")
    ax.set_title(f"{ids}: {s.loss}, {s.optimizer} lr={s.lr:g}, {s.epochs} epochs")
    ax.set_xlabel("weight w")
    ax.set_ylabel("bias b")
    ax.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    return fig
