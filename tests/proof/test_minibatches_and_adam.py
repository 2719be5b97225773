"""Mini-batches and Adam/AdamW: the same batches on both sides, torch.optim's exact updates."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compare.config import RunConfig
from compare.experiment import epoch_orders, run_both
from compare.one_side import train_single
from manual.optim import Adam, adam_init, adam_step
from manual.train import batches
from torch_impl.data import make_loader

from ..cli_helpers import run_cli

STEPS = 8

ADAM_MATRIX = [
    dict(lr=lr, betas=betas, eps=eps, weight_decay=wd, amsgrad=ams, maximize=mx, decoupled=dec)
    for lr, betas, eps, wd, ams, mx, dec in itertools.product(
        [1e-3, 0.1],
        [(0.9, 0.999), (0.3, 0.5)],  # β1 < 0.5 takes torch's other lerp formula
        [1e-8, 0.1],
        [0.0, 0.1],
        [False, True],
        [False, True],
        [False, True],
    )
]


@pytest.mark.parametrize("options", ADAM_MATRIX, ids=lambda o: ",".join(f"{v}" for v in o.values()))
def test_adam_matrix_matches_torch(options):
    rng = np.random.default_rng(11)
    params = (rng.normal(size=3), rng.normal(size=1))
    grads = [(rng.normal(size=3), rng.normal(size=1)) for _ in range(STEPS)]
    tparams = [torch.nn.Parameter(torch.tensor(p.copy())) for p in params]
    kwargs = {k: v for k, v in options.items() if k != "decoupled"}
    topt = (torch.optim.AdamW if options["decoupled"] else torch.optim.Adam)(tparams, **kwargs)
    opt = Adam(**options)
    state, mine = adam_init(params, opt.amsgrad), params
    for g in grads:
        for t, gi in zip(tparams, g, strict=True):
            t.grad = torch.tensor(gi.copy())
        topt.step()
        mine, state = adam_step(mine, g, state, opt)
    for i, (p, t) in enumerate(zip(mine, tparams, strict=True)):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-14, atol=1e-15)
        tstate = topt.state[t]
        np.testing.assert_allclose(state.exp_avg[i], tstate["exp_avg"].numpy(), rtol=1e-14)
        np.testing.assert_allclose(state.exp_avg_sq[i], tstate["exp_avg_sq"].numpy(), rtol=1e-14)
        if opt.amsgrad:
            np.testing.assert_allclose(state.max_exp_avg_sq[i], tstate["max_exp_avg_sq"].numpy())
        assert int(tstate["step"]) == state.step == STEPS


@pytest.mark.parametrize(("n", "size"), [(40, 1), (40, 8), (40, 7), (40, 40), (13, 5)])
def test_dataloader_batches_equal_manual_batches(n, size):
    config = RunConfig(shuffle=True, epochs=3, step=1 / (n / 0.8), batch_size=size)
    orders = epoch_orders(config)
    X = torch.arange(float(config.n_train)).unsqueeze(1)
    loader = make_loader(X, X, size, orders)
    for order in orders:
        rows = [xb[:, 0].long().tolist() for xb, _ in loader]
        assert rows == [b.tolist() for b in batches(config.n_train, size, order)]
        assert sum(map(len, rows)) == config.n_train  # the last partial batch is kept


def test_shuffled_orders_are_permutations_and_differ_by_epoch():
    orders = epoch_orders(RunConfig(shuffle=True, epochs=4))
    for o in orders:
        assert sorted(o.tolist()) == list(range(40))
    assert len({tuple(o) for o in orders}) == 4
    assert epoch_orders(RunConfig(epochs=4)) is None


def plain_torch_minibatch(config):
    """An independent transcription: plain tensors, slicing, torch.optim; no project code."""
    torch.manual_seed(config.seed)
    w = torch.nn.Parameter(torch.randn(1, dtype=torch.float64))
    b = torch.nn.Parameter(torch.randn(1, dtype=torch.float64))
    X = torch.from_numpy(np.arange(0, 1, 0.02)).unsqueeze(1)
    y = 0.7 * X + 0.3
    X, y = X[:40], y[:40]
    opt = torch.optim.Adam([w, b], lr=config.lr)
    losses = []
    for _ in range(config.epochs):
        batch = []
        for i in range(0, 40, config.batch_size):
            loss = torch.nn.functional.l1_loss(
                X[i : i + config.batch_size] * w + b, y[i : i + config.batch_size]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            batch.append(loss.item())
        losses.append(np.mean(batch))
    return np.array(losses), w.item(), b.item()


def test_both_sides_match_an_independent_minibatch_loop():
    config = RunConfig(dtype="float64", batch_size=6, optimizer="adam", lr=0.02, epochs=40)
    c = run_both(config)
    losses, w, b = plain_torch_minibatch(config)
    for side in (c.manual, c.torch):
        np.testing.assert_allclose(side.train_loss, losses, rtol=1e-12)
        assert side.weight[-1, 0] == pytest.approx(w, abs=1e-12)
        assert side.bias[-1] == pytest.approx(b, abs=1e-12)


def test_batch_size_n_is_the_full_batch_run():
    full = run_both(RunConfig(dtype="float64"))
    batched = run_both(RunConfig(dtype="float64", batch_size=40))
    np.testing.assert_array_equal(full.manual.weight, batched.manual.weight)
    np.testing.assert_array_equal(full.torch.train_loss, batched.torch.train_loss)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_float64_within_1e_10_over_100_epochs(optimizer):
    extra = {"momentum": 0.9, "nesterov": True} if optimizer == "sgd" else {"amsgrad": True}
    c = run_both(
        RunConfig(dtype="float64", epochs=100, batch_size=7, shuffle=True, optimizer=optimizer,
                  features=3, noise=0.1, lr=0.02, weight_decay=0.05, **extra)
    )  # fmt: skip
    assert c.param_diff.max() <= 1e-10
    assert np.abs(c.manual.train_loss - c.torch.train_loss).max() <= 1e-10


@settings(max_examples=15, deadline=None)
@given(
    size=st.sampled_from([1, 5, 8, 13, 40]),  # 1, divisors of 40, a non-divisor, N
    shuffle=st.booleans(),
    optimizer=st.sampled_from(["sgd", "adam", "adamw"]),
    amsgrad=st.booleans(),
    weight_decay=st.sampled_from([0.0, 0.1]),
    betas=st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.99)]),
    loss=st.sampled_from(["l1", "mse", "huber"]),
)
def test_hypothesis_batches_shuffle_and_optimizers(
    size, shuffle, optimizer, amsgrad, weight_decay, betas, loss
):
    adam = optimizer != "sgd"
    c = run_both(
        RunConfig(
            dtype="float64", epochs=12, batch_size=size, shuffle=shuffle, optimizer=optimizer,
            amsgrad=amsgrad and adam, betas=betas if adam else (0.9, 0.999), weight_decay=weight_decay, loss=loss,
            lr=0.02, features=2, noise=0.1, seed=3,
        )
    )  # fmt: skip
    assert c.param_diff.max() <= 1e-10


@pytest.mark.parametrize(
    ("impl", "fmt"), [("manual", ".safetensors"), ("torch", ".safetensors"), ("torch", ".pth")]
)
def test_adam_resume_equals_straight_through(tmp_path, impl, fmt):
    base = dict(
        dtype="float64", optimizer="adam", amsgrad=True, batch_size=6, shuffle=True, lr=0.05
    )
    straight = train_single(RunConfig(epochs=20, **base), impl)
    path = tmp_path / f"a{fmt}"
    train_single(RunConfig(epochs=8, **base), impl, save=path)
    resumed = train_single(RunConfig(epochs=12, **base), impl, resume=path)
    np.testing.assert_array_equal(resumed.trajectory.weight, straight.trajectory.weight[8:])


def test_resume_with_another_optimizer_is_refused(tmp_path, capsys):
    path = tmp_path / "s.safetensors"
    train_single(RunConfig(epochs=2), "manual", save=path)
    code, _, err = run_cli(
        capsys, "train", "--impl", "torch", "--optimizer", "adam", "--resume", str(path)
    )
    assert code == 2 and "--optimizer sgd" in err


def test_cli_reports_agreement_for_the_issue_example(capsys):
    import json

    argv = "run --batch-size 8 --shuffle --optimizer adam --dtype float64 --json --no-plots"
    code, out, _ = run_cli(capsys, *argv.split())
    data = json.loads(out)
    assert code == 0 and data["agree"] and data["max_abs_param_diff"] <= 1e-10
    assert data["config"]["batch_size"] == 8 and data["config"]["optimizer"] == "adam"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--batch-size", "0"], "--batch-size"),
        (["--batch-size", "41"], "--batch-size"),
        (["--betas", "0.9", "1.0"], "--betas"),
        (["--betas", "-0.1", "0.9"], "--betas"),
        (["--optimizer", "adam", "--momentum", "0.9"], "--momentum"),
        (["--optimizer", "lbfgs"], "--optimizer"),
        (["--eps", "-1"], "--eps"),
    ],
)
def test_bad_minibatch_and_adam_options(capsys, argv, needle):
    code, out, err = run_cli(capsys, "run", *argv)
    assert code == 2 and out == "" and needle in err and len(err.strip().splitlines()) == 1
