"""Every torch.optim family by hand (manual/optim/) against torch.optim itself, option by option.

The reference is torch: the same data, the same start, torch's autograd gradients and its own
optimizer step. In float64 the two agree to 1e-12 over 200 epochs on noisy three-feature data,
with MSE and with L1, wherever the trajectory itself is stable. Where it is not (RMSprop's limit
cycle near an MSE optimum, Rprop's sign of a gradient that is zero in exact arithmetic), no two
implementations can agree: torch disagrees with itself by more than 1e-12 once its start moves
by one ulp. There the bound is ten times that spread of torch's own, and the first 20 epochs,
before the instability has grown, are held to 1e-12 still.
"""

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

import compare
from compare import optim_args
from compare.config import ConfigError, RunConfig
from compare.experiment import initial_model, make_data, train_torch
from manual.optim import FAMILIES

# Each family's distinctive options, one case each; weight decay rides along where torch has it.
CASES: dict[str, list[dict[str, Any]]] = {
    "adagrad": [{}, {"lr_decay": 0.01, "initial_accumulator_value": 0.5, "eps": 1e-6}],
    "rmsprop": [{}, {"alpha": 0.9, "centered": True}, {"momentum": 0.9},
                {"centered": True, "momentum": 0.5, "alpha": 0.3}],
    "adadelta": [{}, {"rho": 0.5, "eps": 1e-4}],
    "adamax": [{}, {"betas": (0.8, 0.99)}],
    "nadam": [{}, {"momentum_decay": 0.01}, {"decoupled_weight_decay": True}],
    "radam": [{}, {"decoupled_weight_decay": True}, {"betas": (0.5, 0.9)}],
    "asgd": [{}, {"lambd": 0.1, "alpha": 0.5, "t0": 50}],
    "rprop": [{}, {"etas": (0.3, 1.5), "step_sizes": (1e-3, 0.05)}],
}  # fmt: skip
PARAMS = [(name, opts) for name, grid in CASES.items() for opts in grid]


def config(name, opts, loss, epochs=200, **more):
    decay = 0.01 if "weight_decay" in optim_args.accepted(name) else 0.0
    settings = {"lr": 0.01, "weight_decay": decay, "features": 3, "noise": 0.1} | more
    return RunConfig(optimizer=name, optim_args=opts, loss=loss, epochs=epochs, dtype="float64",
                     **settings)  # fmt: skip


def torch_own_drift(cfg):
    """Per epoch, how far torch drifts from itself under rounding alone: its start moved by one
    ulp, its training rows in reverse order, its features in another order. Each is the same
    problem in exact arithmetic; only the order of the sums, and so the rounding, differs."""
    split = make_data(cfg)
    order = np.roll(np.arange(cfg.features), 1)
    variants = {
        "as is": (split, None, False),
        "one ulp": (split, None, True),
        "rows reversed": (dataclasses.replace(split, X_train=split.X_train[::-1].copy(),
                                              y_train=split.y_train[::-1].copy()), None, False),
        "features reordered": (dataclasses.replace(split, X_train=split.X_train[:, order].copy(),
                                                   X_test=split.X_test[:, order].copy()), order, False),
    }  # fmt: skip
    paths = []
    for data, columns, nudge in variants.values():
        model = initial_model(cfg, torch.device("cpu"))
        with torch.no_grad():
            for p in model.parameters():
                value = p.numpy()
                if nudge:
                    value = np.nextafter(value, np.inf)
                if columns is not None and value.shape == (cfg.features,):
                    value = value[columns]
                p.copy_(torch.from_numpy(value.copy()))
        history = train_torch(cfg, data, model).history
        weight = np.array(history.weight)
        if columns is not None:
            weight = weight[:, np.argsort(columns)]
        paths.append(np.column_stack([weight, history.bias]))
    return np.max([np.abs(paths[0] - other).max(axis=1) for other in paths[1:]], axis=0)


@pytest.mark.parametrize("loss", ["mse", "l1"])
@pytest.mark.parametrize(("name", "opts"), PARAMS, ids=[f"{n}-{o}" for n, o in PARAMS])
def test_the_hand_step_is_torch_optims_in_float64(name, opts, loss):
    cfg = config(name, opts, loss)
    c = compare.run(cfg)
    moved = np.abs(c.manual.weight[-1] - c.initial_weight).max()
    assert moved > 1e-3  # the optimizer really ran: agreement is not two runs standing still
    if c.max_param_diff <= 1e-12:
        return
    drift = torch_own_drift(cfg)
    ours = np.maximum(c.weight_diff, c.bias_diff)
    stable = int(np.argmax(drift > 1e-12)) if (drift > 1e-12).any() else len(drift)
    assert stable < len(drift), f"diff {c.max_param_diff:.1e} where torch agrees with itself"
    assert ours[:stable].max(initial=0) <= 1e-12, f"leaves torch before epoch {stable}"
    assert ours.max() <= 10 * drift.max(), f"diff {ours.max():.1e}, torch's own {drift.max():.1e}"


@pytest.mark.parametrize(("name", "opts"), PARAMS, ids=[f"{n}-{o}" for n, o in PARAMS])
def test_each_option_matters_so_the_agreement_can_fail(name, opts):
    """A hand step fed slightly wrong options leaves torch's path by far more than 1e-12."""
    cfg = config(name, opts, "mse", epochs=20)
    right = compare.run(cfg)
    for key, value in opts.items():
        if key == "t0":
            continue  # t0 moves only ASGD's average, not θ: test_asgd_averages_as_torch_does
        wrong = (not value if isinstance(value, bool)
                 else tuple(v * 0.9 for v in value) if isinstance(value, tuple) else value * 0.9)  # fmt: skip
        cfg_wrong = config(name, {**opts, key: wrong}, "mse", epochs=20)
        moved = np.abs(compare.run(cfg_wrong).manual.weight - right.torch.weight).max()
        assert moved > 1e-9, f"{key}: {value} and {wrong} give the same path"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_maximize_climbs_as_torch_climbs(name):
    c = compare.run(config(name, {}, "mse", epochs=30, maximize=True))
    assert c.max_param_diff <= 1e-12
    assert c.manual.train_loss[-1] > c.manual.train_loss[0]  # it went up the loss


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_float32_agrees_within_the_float32_tolerance(name):
    c = compare.run(optimizer=name, epochs=100)  # the course's data, dtype and start
    assert c.agree, f"{name}: departs at epoch {c.first_divergence_epoch}"


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"optimizer": "rmsprop", "optim_args": {"rho": 0.9}}, "rmsprop takes alpha, eps"),
        ({"optimizer": "rmsprop", "optim_args": {"alpha": -1.0}}, "torch.optim.RMSprop refuses"),
        ({"optimizer": "rmsprop", "optim_args": {"centered": 1.0}}, "centered is true or false"),
        ({"optimizer": "rprop", "weight_decay": 0.1}, "rprop has no weight decay"),
        ({"optimizer": "adamax", "betas": (0.8, 0.9)}, "--optim-args KEY=VALUE"),
        ({"optimizer": "nadam", "optim_args": {"lr": 0.1}}, "give the learning rate as --lr"),
        ({"optimizer": "rprop", "optim_args": {"etas": (0.5,)}}, "give 2 numbers"),
    ],
)
def test_a_wrong_key_or_value_is_one_line_naming_the_accepted_keys(settings, needle):
    with pytest.raises(ConfigError, match=None) as caught:
        RunConfig(**settings)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_sgd_and_adam_take_optim_args_into_their_own_flags():
    folded = RunConfig(optimizer="adam", optim_args={"betas": [0.8, 0.99], "amsgrad": True})
    assert folded.betas == (0.8, 0.99) and folded.amsgrad and folded.optim_args == ()
    sgd = RunConfig(optim_args={"momentum": 0.9, "nesterov": True})
    assert sgd.momentum == 0.9 and sgd.nesterov


def test_asgd_averages_as_torch_does():
    """ASGD's averaged parameters (torch's state["ax"]) and its float32 η and μ, step by step."""
    from manual.optim import ASGD, init_state, step

    rng = np.random.default_rng(3)
    theta = rng.normal(size=3)
    for t0 in (5.0, 12.0):
        p = torch.tensor(theta, requires_grad=True)
        ref = torch.optim.ASGD([p], lr=0.05, lambd=0.01, alpha=0.6, t0=t0)
        opt = ASGD(lr=0.05, lambd=0.01, alpha=0.6, t0=t0)
        params, state = (theta.copy(),), init_state(opt, (theta,))
        for _ in range(40):
            grad = rng.normal(size=3)
            p.grad = torch.tensor(grad)
            ref.step()
            params, state = step(params, (grad,), state, opt)
            np.testing.assert_allclose(params[0], p.detach().numpy(), rtol=0, atol=1e-15)
            np.testing.assert_allclose(state.ax[0], ref.state[p]["ax"].numpy(), rtol=0, atol=1e-15)
            assert state.eta[0] == ref.state[p]["eta"].item()  # both float32: equal, bit for bit
            assert state.mu[0] == ref.state[p]["mu"].item()
        averaged = state.ax[0]
        assert np.abs(averaged - params[0]).max() > 1e-3  # past t0 the average lags θ
