"""Figures: inspected as objects (lines, labels, data), and written as PNGs of the stated size."""

import struct

import numpy as np
import pytest
from matplotlib.figure import Figure

from compare import plots
from compare.config import RunConfig
from compare.experiment import run_both

from ..cli_helpers import run_cli


@pytest.fixture(scope="module")
def mse_run():
    return run_both(RunConfig(loss="mse", dtype="float64", lr=0.1, epochs=60))


@pytest.fixture(scope="module")
def run3():
    return run_both(RunConfig(loss="huber", features=3, noise=0.05, epochs=40))


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_every_figure_is_big_enough_titled_and_labelled(mse_run):
    for make in plots.RUN_FIGURES.values():
        fig = make(mse_run)
        assert isinstance(fig, Figure)
        w, h = fig.get_size_inches() * fig.dpi
        assert w >= 1000 and h >= 700
        axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        assert axes[0].get_title()
        assert axes[-1].get_xlabel() and all(ax.get_ylabel() for ax in axes)
        assert axes[0].get_legend() is not None


def test_predictions_figure(mse_run):
    ax = plots.predictions_figure(mse_run).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["Training data", "Testing data"]
    assert any("manual" in s for s in labels) and any("torch" in s for s in labels)
    assert any(s.startswith("True line") for s in labels)
    assert len(ax.collections) == 4 and len(ax.lines) == 1
    train, test, manual_pts, torch_pts = (c.get_offsets() for c in ax.collections)
    manual_marks, torch_marks = ax.collections[2], ax.collections[3]
    np.testing.assert_array_equal(train[:, 1], mse_run.split.y_train[:, 0])
    np.testing.assert_array_equal(test[:, 0], mse_run.split.X_test[:, 0])
    expected = mse_run.split.X_test[:, 0] * mse_run.torch.weight[-1, 0] + mse_run.torch.bias[-1]
    np.testing.assert_allclose(torch_pts[:, 1], expected)
    np.testing.assert_allclose(manual_pts[:, 1], expected, atol=1e-12)
    # Distinguishable where they overlap: different markers, the torch one hollow.
    m_path, t_path = manual_marks.get_paths()[0], torch_marks.get_paths()[0]
    assert m_path.vertices.shape != t_path.vertices.shape or not np.allclose(
        m_path.vertices, t_path.vertices
    )
    assert np.all(torch_marks.get_facecolor()[:, 3] == 0)  # hollow: no fill at all
    assert np.all(torch_marks.get_edgecolor()[:, 3] > 0)  # but a visible edge
    assert np.all(manual_marks.get_edgecolor()[:, 3] > 0) or np.all(
        manual_marks.get_facecolor()[:, 3] > 0
    )


def test_loss_curves_carry_the_histories(mse_run):
    fig = plots.loss_curves_figure(mse_run)
    top, bottom = fig.axes
    assert top.get_yscale() == "log"
    ydata = {line.get_label(): line.get_ydata() for line in top.lines}
    np.testing.assert_array_equal(ydata["train, manual"], mse_run.manual.train_loss)
    np.testing.assert_array_equal(ydata["test, torch"], mse_run.torch.test_loss)
    diff = {line.get_label(): line.get_ydata() for line in bottom.lines}
    np.testing.assert_array_equal(
        diff["|Δ train loss|"], np.abs(mse_run.manual.train_loss - mse_run.torch.train_loss)
    )


def test_parameters_figure_has_one_panel_per_parameter(run3, mse_run):
    fig = plots.parameters_figure(run3)
    assert len(fig.axes) == 4  # w[0], w[1], w[2], b
    for k, ax in enumerate(fig.axes[:3]):
        np.testing.assert_array_equal(ax.lines[0].get_ydata(), run3.manual.weight[:, k])
        np.testing.assert_array_equal(ax.lines[1].get_ydata(), run3.torch.weight[:, k])
        assert ax.lines[2].get_linestyle() == "--"
        assert ax.lines[2].get_ydata()[0] == run3.split.true_weight[k]
    # MSE adds the closed-form optimum, dotted.
    w_star = plots.parameters_figure(mse_run).axes[0].lines[3]
    assert w_star.get_linestyle() == ":" and w_star.get_ydata()[0] == mse_run.closed_form[0][0]


def test_loss_landscape(mse_run, run3):
    fig = plots.loss_landscape_figure(mse_run)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for needed in ("start", "end", "optimum (closed form)"):
        assert needed in labels
    path = ax.lines[0]
    np.testing.assert_array_equal(path.get_xdata()[1:], mse_run.manual.weight[:, 0])
    np.testing.assert_array_equal(path.get_ydata()[0], mse_run.initial_bias)
    assert len(ax.texts) > 0  # the arrows
    with pytest.raises(ValueError, match="--features 1"):
        plots.loss_landscape_figure(run3)


def test_bench_figure_is_log_log_with_the_floor():
    rows = [
        {"impl": i, "n": n, "median_s": t * n, "floor_s": 1e-9 * n}
        for i, t in (("manual", 1e-8), ("torch_autograd", 3e-8))
        for n in (40, 4000)
    ]
    ax = plots.bench_figure(rows).axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["by hand: manual", "torch: torch_autograd", "floor: stream X and y once"]
    bars = next(c for c in ax.containers if c.get_label() == "torch: torch_autograd")
    np.testing.assert_allclose(
        np.asarray(bars.lines[0].get_ydata(), float), [3e-8 * 40, 3e-8 * 4000]
    )


def test_run_out_writes_four_pngs(tmp_path, capsys):
    out = tmp_path / "figs"
    code, text, _ = run_cli(capsys, "run", "--epochs", "20", "--out", str(out))
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["loss_curves.png", "loss_landscape.png", "parameters.png", "predictions.png"]
    for name in names:
        assert f"wrote {out / name}" in text
        w, h = png_size(out / name)
        assert w >= 1000 and h >= 700


def test_default_folder_and_no_plots(tmp_path, capsys):
    code, _, _ = run_cli(capsys, "run", "--epochs", "5")
    assert code == 0
    (stamp,) = (tmp_path / "runs").iterdir()
    assert len(list(stamp.glob("*.png"))) == 4
    code, text, _ = run_cli(
        capsys, "run", "--epochs", "5", "--no-plots", "--out", str(tmp_path / "x")
    )
    assert code == 0
    assert not (tmp_path / "x").exists()  # --no-plots writes nothing, not even the folder
    assert len(list((tmp_path / "runs").iterdir())) == 1  # and no second timestamped folder
    assert "wrote" not in text


def test_show_without_a_display_says_so(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", "--epochs", "5", "--out", str(tmp_path / "f"), "--show")
    assert code == 0 and "no display" in err


def test_features_3_skips_only_the_landscape(tmp_path, capsys):
    code, _, _ = run_cli(capsys, "run", "--features", "3", "--epochs", "5", "--out", str(tmp_path))
    assert code == 0
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "loss_curves.png", "parameters.png", "predictions.png",
    ]  # fmt: skip


def test_a_notebook_run_shows_its_verdict_and_draws_each_figure_by_name():
    import compare

    c = compare.run(epochs=20)
    html = c._repr_html_()
    assert "AGREE" in html and "0.7" in html
    for kind in compare.FIGURES:
        fig = c.plot(kind)
        assert isinstance(fig, Figure) and fig.get_label(), kind
    with pytest.raises(ValueError, match="choose one of predictions"):
        c.plot("histogram")
