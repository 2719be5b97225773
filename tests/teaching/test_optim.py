"""manual.optim.sgd_step against torch.optim.SGD, over the whole option matrix."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from manual.optim import SGD, sgd_init, sgd_step

from ..strategies import sgd_options

STEPS = 6


def run_both(options, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = (rng.normal(size=3).astype(dtype), rng.normal(size=1).astype(dtype))
    grads_per_step = [
        (rng.normal(size=3).astype(dtype), rng.normal(size=1).astype(dtype)) for _ in range(STEPS)
    ]
    tparams = [torch.nn.Parameter(torch.tensor(p.copy())) for p in params]
    topt = torch.optim.SGD(tparams, **options)
    state = sgd_init(params)
    mine = params
    for grads in grads_per_step:
        for t, g in zip(tparams, grads, strict=True):
            t.grad = torch.tensor(g.copy())
        topt.step()
        mine, state = sgd_step(mine, grads, state, SGD(**options))
    return mine, state, tparams, topt


MATRIX = [
    dict(lr=lr, momentum=m, dampening=dmp, weight_decay=wd, nesterov=nest, maximize=mx)
    for lr, m, dmp, wd, nest, mx in itertools.product(
        [0.01, 0.5], [0.0, 0.9], [0.0, 0.5], [0.0, 0.1], [False, True], [False, True]
    )
    if not nest or (m > 0 and dmp == 0)
]


@pytest.mark.parametrize(
    "options", MATRIX, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items())
)
def test_matrix_matches_torch(options):
    mine, state, tparams, topt = run_both(options)
    for p, t in zip(mine, tparams, strict=True):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-15, atol=1e-15)
    for buf, t in zip(state.momentum_buffer, tparams, strict=True):
        torch_buf = topt.state[t].get("momentum_buffer")
        if options["momentum"] == 0:
            assert buf is None and torch_buf is None
        else:
            np.testing.assert_allclose(buf, torch_buf.numpy(), rtol=1e-15, atol=1e-15)
    assert state.step == STEPS


@settings(max_examples=40, deadline=None)
@given(options=sgd_options)
def test_random_options_match_torch_in_float32(options):
    mine, _, tparams, _ = run_both(options, seed=5, dtype=np.float32)
    for p, t in zip(mine, tparams, strict=True):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_first_momentum_buffer_is_the_gradient_not_zero():
    params, grads = (np.array([1.0]),), (np.array([2.0]),)
    _, state = sgd_step(params, grads, sgd_init(params), SGD(lr=0.1, momentum=0.9, dampening=0.5))
    # Zero-initialised it would be (1 - 0.5)·2 = 1.0; torch starts from the undamped gradient.
    np.testing.assert_array_equal(state.momentum_buffer[0], [2.0])


def test_step_is_pure():
    params, grads = (np.array([1.0, 2.0]),), (np.array([0.5, -0.5]),)
    state = sgd_init(params)
    sgd_step(params, grads, state, SGD(lr=0.1, momentum=0.9))
    np.testing.assert_array_equal(params[0], [1.0, 2.0])
    assert state.momentum_buffer == [None] and state.step == 0
