"""End to end: manual and torch trajectories agree for every loss, model, dtype and SGD option."""

import itertools

import numpy as np
import pytest

from compare.closed_form import least_squares
from compare.config import RunConfig
from compare.experiment import run_both
from compare.tolerance import TOLERANCES


@pytest.mark.parametrize(
    ("loss", "model", "dtype"),
    list(
        itertools.product(["l1", "mse", "huber"], ["parameter", "linear"], ["float32", "float64"])
    ),
)
def test_loss_model_dtype(loss, model, dtype):
    c = run_both(RunConfig(loss=loss, model=model, dtype=dtype, device="cpu"))
    assert c.agree, (c.first_divergence_epoch, c.param_diff.max())
    assert c.param_diff.max() <= TOLERANCES[dtype].atol + TOLERANCES[dtype].rtol
    assert len(c.manual.train_loss) == len(c.torch.test_loss) == 100
    # Training moved the parameters, so agreement is not the trivial "both stood still".
    assert np.abs(c.manual.weight[-1] - c.initial_weight).max() > 1e-3


SGD_OPTIONS = [
    {},
    {"momentum": 0.9},
    {"momentum": 0.9, "dampening": 0.5},
    {"momentum": 0.9, "nesterov": True},
    {"weight_decay": 0.1},
    {"momentum": 0.5, "weight_decay": 0.05, "nesterov": True},
]


@pytest.mark.parametrize("loss", ["l1", "mse", "huber"])
@pytest.mark.parametrize("options", SGD_OPTIONS, ids=str)
def test_float64_within_1e_12_for_hundreds_of_epochs(loss, options):
    config = RunConfig(
        loss=loss,
        dtype="float64",
        features=3,
        noise=0.1,
        epochs=400,
        lr=0.05,
        device="cpu",
        **options,
    )
    c = run_both(config)
    assert c.param_diff.max() <= 1e-12
    assert np.abs(c.manual.train_loss - c.torch.train_loss).max() <= 1e-12
    assert np.abs(c.manual.test_loss - c.torch.test_loss).max() <= 1e-12


@pytest.mark.parametrize("loss", ["l1", "mse", "huber"])
@pytest.mark.parametrize(
    "options",
    [
        {"maximize": True},
        {"maximize": True, "momentum": 0.9, "weight_decay": 0.1},  # the flip comes before λθ
        {"maximize": True, "optimizer": "adam", "weight_decay": 0.1},
        {"maximize": True, "optimizer": "adamw", "weight_decay": 0.1},
    ],
    ids=str,
)
def test_maximize_climbs_the_loss_on_both_sides(loss, options):
    c = run_both(RunConfig(loss=loss, dtype="float64", features=2, epochs=40, lr=0.01, **options))
    assert c.param_diff.max() <= 1e-12
    # Torch, the independent side, climbed: the loss ends above where it started.
    assert c.torch.train_loss[-1] > c.torch.train_loss[0]


def test_mse_converges_to_the_closed_form_which_matches_polyfit():
    c = run_both(RunConfig(loss="mse", dtype="float64", lr=0.5, epochs=3000, noise=0.05))
    w_star, b_star = c.closed_form
    slope, intercept = np.polyfit(c.split.X_train[:, 0], c.split.y_train[:, 0], 1)
    assert (w_star[0], b_star) == pytest.approx((slope, intercept), abs=1e-10)
    for side in (c.manual, c.torch):
        assert side.weight[-1, 0] == pytest.approx(slope, abs=1e-6)
        assert side.bias[-1] == pytest.approx(intercept, abs=1e-6)


def test_closed_form_with_weight_decay_is_where_the_decayed_gradient_vanishes():
    rng = np.random.default_rng(1)
    X, y, lam = rng.normal(size=(30, 2)), rng.normal(size=(30, 1)), 0.3
    w, b = least_squares(X, y, weight_decay=lam)
    r = X @ w[:, None] + b - y
    # d/dθ [ mean(r²) ] + λθ, written out independently of closed_form.py
    grad_w = 2 * X.T @ r[:, 0] / len(X) + lam * w
    grad_b = 2 * r.mean() + lam * b
    np.testing.assert_allclose(np.append(grad_w, grad_b), 0.0, atol=1e-12)


def test_closed_form_only_for_mse():
    assert run_both(RunConfig(epochs=1)).closed_form is None
    assert run_both(RunConfig(loss="mse", epochs=1)).closed_form is not None


def test_a_wrong_hand_gradient_is_caught_and_located(monkeypatch):
    from manual import losses

    half = losses.Loss(losses.mse, lambda p, t: (p - t) / p.size)  # ½·MSE's gradient
    monkeypatch.setitem(losses.LOSSES, "mse", half)
    c = run_both(RunConfig(loss="mse", dtype="float64"))
    assert not c.agree and c.first_divergence_epoch == 0
