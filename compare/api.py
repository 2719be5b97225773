"""The small Python API behind `import compare`, for notebooks and scripts."""

from __future__ import annotations

import html
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compare.config import RunConfig
from compare.diagnose.run import Diagnosis
from compare.experiment import Comparison, run_both
from compare.gradcheck import GradRow
from compare.gradcheck import check_gradients as _check_gradients

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from compare.exercises.results import Gradebook

FIGURES = ("predictions", "loss_curves", "parameters", "loss_landscape")


def figure_html(fig: Figure) -> str | None:
    """A labelled Figure as an <img> with its label as alt text (None: IPython's own PNG)."""
    label = str(fig.get_label() or "")
    if not label:
        return None
    import base64
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{html.escape(label)}" src="data:image/png;base64,{data}">'


def _register_alt_text() -> None:
    """Inside IPython, our figures show with alt text; the PNG stays for other front ends."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type_by_name("matplotlib.figure", "Figure", figure_html)


_register_alt_text()


class NotebookComparison(Comparison):
    """A Comparison that shows itself in a notebook: the proof stays free of its views."""

    @classmethod
    def of(cls, c: Comparison) -> NotebookComparison:
        return cls(**{f.name: getattr(c, f.name) for f in fields(c)})

    def _repr_html_(self) -> str:
        """In a notebook: the verdict, the parameters and the epoch table."""
        from compare.report import comparison_html

        return comparison_html(self)

    def plot(self, kind: str = "loss_landscape") -> Figure:
        """One of the run's figures (predictions, loss_curves, parameters, loss_landscape)."""
        from compare import plots

        makers = {name.removesuffix(".png"): make for name, make in plots.RUN_FIGURES.items()}
        if kind not in makers:
            raise ValueError(f"plot kind {kind!r}: choose one of {', '.join(makers)}")
        return makers[kind](self)


class NotebookDiagnosis(Diagnosis):
    """A Diagnosis that can draw itself in a notebook."""

    @classmethod
    def of(cls, d: Diagnosis) -> NotebookDiagnosis:
        return cls(**{f.name: getattr(d, f.name) for f in fields(d)})

    def plot(self) -> Figure:
        """The learner's path against the correct one, on the loss landscape (a Figure)."""
        from compare.diagnose.figure import diagnosis_figure

        return diagnosis_figure(self)


def run(config: RunConfig | None = None, **settings: Any) -> NotebookComparison:  # noqa: ANN401
    """Train both sides from one config (or RunConfig's keyword arguments) and compare them."""
    if config is not None and settings:
        raise TypeError("give a RunConfig or keyword arguments, not both")
    return NotebookComparison.of(run_both(config or RunConfig(**settings)))


@dataclass(frozen=True)
class GradientCheck:
    """The cmp-style rows of a gradient check; renders as a table in a notebook."""

    rows: list[GradRow]  # one per parameter: hand, autograd, numeric, exact, close, maxdiff

    @property
    def ok(self) -> bool:
        """Every hand gradient is close to autograd and to the central difference."""
        return all(r.vs_autograd.close and r.vs_numeric.close for r in self.rows)

    def _repr_html_(self) -> str:
        names = ("", "hand", "autograd", "numeric", "exact", "close", "maxdiff", "≈ num")
        head = "".join(f"<th>{h}</th>" for h in names)
        body = "".join(
            f"<tr><td>{r.name}</td><td>{r.hand:+.8f}</td><td>{r.autograd:+.8f}</td>"
            f"<td>{r.numeric:+.8f}</td><td>{r.vs_autograd.exact}</td><td>{r.vs_autograd.close}"
            f"</td><td>{r.vs_autograd.maxdiff:.1e}</td><td>{r.vs_numeric.close}</td></tr>"
            for r in self.rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"


def check_gradients(c: Comparison) -> GradientCheck:
    """The run's start, checked three ways in float64: hand vs autograd vs central difference."""
    return GradientCheck(
        _check_gradients(
            c.split.X_train, c.split.y_train, c.initial_weight, c.initial_bias, c.config.loss
        )
    )


@dataclass(frozen=True)
class BenchResult:
    """A benchmark run's rows and machine; renders as a table in a notebook."""

    data: dict[str, Any]  # as `gradcompare bench --json` prints it

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One per (N, implementation)."""
        return list(self.data["rows"])

    def _repr_html_(self) -> str:
        from compare.bench.report import seconds

        names = ("N", "implementation", "median per step", "× autograd", "× floor")
        head = "<tr>" + "".join(f"<th>{h}</th>" for h in names) + "</tr>"
        body = "".join(
            f"<tr><td>{r['n']:,}</td><td>{r['impl']}</td><td>{seconds(r['median_s'])}</td>"
            f"<td>{_ratio(r['ratio_to_autograd'])}</td><td>{r['ratio_to_floor']:.1f}</td></tr>"
            for r in self.rows
        )
        return f"<table>{head}{body}</table>"

    def plot(self) -> Figure:
        """Time per step against N, a Figure (alt text: Figure.get_label())."""
        from compare import plots

        return plots.bench_figure(self.rows)


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def benchmark(**settings: Any) -> BenchResult:  # noqa: ANN401
    """Time every step implementation (BenchConfig's keyword arguments, e.g. sizes=(40, 10**6))."""
    from compare.bench.config import BenchConfig
    from compare.bench.run import run_bench

    settings.setdefault("repeats", 3)
    if "sizes" in settings:
        settings["sizes"] = tuple(settings["sizes"])
    if "impls" in settings:
        settings["impls"] = tuple(settings["impls"])
    return BenchResult(run_bench(BenchConfig(**settings)))


def diagnose_loop(path: str | Path, **settings: Any) -> NotebookDiagnosis:  # noqa: ANN401
    """Run a learner's train() and name its mistake (compare.diagnose.run.Settings' keywords)."""
    from compare.diagnose.run import Settings
    from compare.diagnose.run import diagnose as _diagnose

    return NotebookDiagnosis.of(_diagnose(Path(path), Settings(**settings)))


def check(folder: str | Path, task: int | None = None, seed: int | None = None) -> Gradebook:
    """Grade a student copy (every task, or one); the gradebook renders as a table."""
    from compare.exercises.grade import check as _check

    return _check(folder, task, seed)
