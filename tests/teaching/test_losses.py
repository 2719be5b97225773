"""Each hand loss equals its torch twin, and each hand gradient dL/dŷ equals autograd's."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compare.gradcheck import central_difference
from manual.losses import LOSSES
from torch_impl.losses import make_loss

from ..strategies import KINK_MARGIN

NAMES = sorted(LOSSES)


def autograd_dpred(name, pred, target):
    p = torch.tensor(pred, requires_grad=True)
    loss = make_loss(name)(p, torch.tensor(target))
    loss.backward()
    return loss.item(), p.grad.numpy()


@st.composite
def pred_target(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(1, 30))
    rng = np.random.default_rng(seed)
    pred = rng.normal(0, 2, (n, 1))
    target = rng.normal(0, 2, (n, 1))
    r = np.abs(pred - target)
    # Central differences are meaningless across a kink; the kinks get their own tests below.
    assume(np.min(r) > KINK_MARGIN and np.min(np.abs(r - 1)) > KINK_MARGIN)
    return pred, target


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None)
@given(pt=pred_target())
def test_value_and_gradient_match_autograd_and_central_difference(name, pt):
    pred, target = pt
    loss = LOSSES[name]
    torch_value, torch_grad = autograd_dpred(name, pred, target)
    assert loss.value(pred, target) == pytest.approx(torch_value, rel=1e-14, abs=1e-15)
    hand = loss.grad(pred, target)
    np.testing.assert_allclose(hand, torch_grad, rtol=1e-14, atol=1e-16)
    numeric = central_difference(lambda p: loss.value(p, target), pred)
    np.testing.assert_allclose(hand, numeric, rtol=1e-6, atol=1e-8)


def test_l1_subgradient_at_zero_is_zero_like_torch():
    pred = np.array([[1.0], [2.0], [3.0], [4.0]])
    target = np.array([[1.0], [1.0], [3.0], [5.0]])  # residuals 0, 1, 0, -1
    _, torch_grad = autograd_dpred("l1", pred, target)
    hand = LOSSES["l1"].grad(pred, target)
    np.testing.assert_array_equal(hand, torch_grad)
    np.testing.assert_array_equal(hand[[0, 2]], 0.0)


def test_huber_at_exactly_delta_matches_torch():
    pred = np.array([[1.0], [-1.0], [0.5], [3.0]])
    target = np.zeros((4, 1))  # residuals on both edges of the quadratic zone, inside, outside
    value, torch_grad = autograd_dpred("huber", pred, target)
    assert LOSSES["huber"].value(pred, target) == value
    np.testing.assert_array_equal(LOSSES["huber"].grad(pred, target), torch_grad)


def test_mse_has_no_half():
    """d2l's ½·MSE would make this 0.5·mean(r²); torch's MSELoss and ours are mean(r²)."""
    pred, target = np.array([[3.0], [1.0]]), np.array([[1.0], [1.0]])
    assert (
        LOSSES["mse"].value(pred, target)
        == 2.0
        == torch.nn.MSELoss()(torch.tensor(pred), torch.tensor(target))
    )
    np.testing.assert_array_equal(LOSSES["mse"].grad(pred, target), [[2.0], [0.0]])


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name):
    pred = np.linspace(-2, 2, 7, dtype=np.float32)[:, None]
    target = np.zeros((7, 1), dtype=np.float32)
    assert LOSSES[name].grad(pred, target).dtype == np.float32
