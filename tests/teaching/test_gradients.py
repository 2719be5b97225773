"""The chain rule to dw, db: hand derivation vs torch autograd vs central differences, float64."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from compare.gradcheck import central_difference, check_gradients, cmp
from manual.gradients import gradients
from manual.losses import LOSSES
from torch_impl.losses import make_loss

from ..strategies import problems


def autograd(problem, name):
    X, y = torch.tensor(problem.X), torch.tensor(problem.y)
    w = torch.tensor(problem.w, requires_grad=True)
    b = torch.tensor(problem.b, requires_grad=True)
    # An independent graph: plain tensors, no nn.Module from this project.
    loss = make_loss(name)(X @ w[:, None] + b, y)
    loss.backward()
    return loss.item(), w.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("name", sorted(LOSSES))
@settings(max_examples=50, deadline=None)
@given(problem=problems())
def test_three_way(name, problem):
    value, dw, db = gradients(problem.X, problem.y, problem.w, problem.b, LOSSES[name])
    t_value, t_dw, t_db = autograd(problem, name)
    assert value == pytest.approx(t_value, rel=1e-13, abs=1e-15)
    np.testing.assert_allclose(dw, t_dw, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(db, t_db, rtol=1e-12, atol=1e-15)

    d = problem.w.size

    def f(theta):
        return LOSSES[name].value(problem.X @ theta[:d, None] + theta[d:], problem.y)

    numeric = central_difference(f, np.concatenate([problem.w, problem.b]))
    np.testing.assert_allclose(np.concatenate([dw, db]), numeric, rtol=1e-5, atol=1e-7)


def test_central_difference_on_a_known_function():
    x = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(central_difference(lambda v: np.sum(np.sin(v)), x), np.cos(x), 1e-9)


def test_cmp_reports_exact_close_and_maxdiff():
    a = np.array([1.0, 2.0])
    assert cmp(a, a.copy()).exact and cmp(a, a).maxdiff == 0.0
    near = cmp(a, a + 1e-12)
    assert not near.exact and near.close and near.maxdiff == pytest.approx(1e-12, rel=1e-3)
    far = cmp(a, a * 2)
    assert not far.close and far.maxdiff == 2.0


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_check_gradients_rows_agree_at_a_seeded_nonzero_point(name):
    rng = np.random.default_rng(7)
    X = rng.uniform(-1, 1, (30, 3))
    y = rng.normal(size=(30, 1))
    rows = check_gradients(X, y, rng.normal(size=3), 0.4, name)
    assert [r.name for r in rows] == ["dw[0]", "dw[1]", "dw[2]", "db"]
    for r in rows:
        assert r.hand != 0.0
        assert r.vs_autograd.close and r.vs_numeric.close, r


def test_check_gradients_catches_a_wrong_derivation(monkeypatch):
    """A gradient missing MSE's factor 2 must show up as not close."""
    from manual import losses

    wrong = losses.Loss(losses.mse, lambda p, t: (p - t) / p.size)
    monkeypatch.setitem(losses.LOSSES, "mse", wrong)
    rng = np.random.default_rng(3)
    rows = check_gradients(rng.normal(size=(20, 1)), rng.normal(size=(20, 1)), [0.5], 0.1, "mse")
    assert not any(r.vs_autograd.close for r in rows)
    assert not any(r.vs_numeric.close for r in rows)
