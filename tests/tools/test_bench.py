"""Every timed step computes the same update as the reference step; the bench command works."""

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import manual.fast
from compare.bench.config import IMPLS, BenchConfig
from compare.bench.run import bench_data, make_steps
from manual.fast import ChunkedGradients, SufficientStatistics
from manual.gradients import gradients
from manual.losses import LOSSES

from ..cli_helpers import run_cli

TOL = {"float64": 1e-12, "float32": 2e-6}


TORCH_LOSSES = {"l1": torch.nn.L1Loss, "mse": torch.nn.MSELoss, "huber": torch.nn.HuberLoss}


def reference_update(X, y, w0, b0, loss, optimizer, steps):
    """The update by torch autograd and torch.optim, in float64: no code under test."""
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)([w, b], lr=0.01)
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    for _ in range(steps):
        opt.zero_grad()
        TORCH_LOSSES[loss]()(Xt @ w[:, None] + b, yt).backward()
        opt.step()
    return w.detach().numpy(), b.detach().numpy()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("loss", ["l1", "mse", "huber"])
def test_every_step_matches_the_reference(loss, optimizer, dtype, monkeypatch):
    monkeypatch.setattr(manual.fast, "CHUNK_ROWS", 64)  # several chunks, split over 2 threads
    X, y, w0, b0 = bench_data(1_000, 1, dtype)
    cfg = BenchConfig(loss=loss, dtype=dtype, optimizer=optimizer, threads=2)
    steps = make_steps(X, y, w0, b0, cfg)
    assert set(steps) == set(IMPLS)
    w_ref, b_ref = reference_update(X, y, w0, b0, loss, optimizer, steps=3)
    assert np.abs(w_ref - w0).max() > 1e-5  # the steps moved: agreement is not trivial
    for name, s in steps.items():
        for _ in range(3):
            s.run()
        w, b = s.params()
        s.close()
        tol = TOL[dtype]
        if name == "torch_compiled" and optimizer == "adam":
            # Compiled, Adam keeps t as a float32 tensor and computes 1 - β2ᵗ in float32:
            # ~1e-5 relative in the step's denominator, ~1e-7 absolute after three steps of 0.01.
            tol = max(tol, 1e-6)
        np.testing.assert_allclose(w, w_ref, atol=tol, rtol=tol, err_msg=name)
        np.testing.assert_allclose(b, b_ref, atol=tol, rtol=tol, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    d=st.integers(1, 4),
    chunk=st.sampled_from([1, 7, 64, 1 << 18]),
    threads=st.integers(1, 3),
    loss=st.sampled_from(["l1", "mse", "huber"]),
    seed=st.integers(0, 1000),
)
def test_chunked_gradients_equal_the_readable_ones(n, d, chunk, threads, loss, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, d)), rng.normal(size=(n, 1))
    w, b = rng.normal(size=d), rng.normal(size=1)
    old = manual.fast.CHUNK_ROWS
    manual.fast.CHUNK_ROWS = chunk
    try:
        fast = ChunkedGradients(X, y, loss, threads=threads)
        got = fast(w, b)
        fast.close()
    finally:
        manual.fast.CHUNK_ROWS = old
    want = gradients(X, y, w, b, LOSSES[loss])
    assert got[0] == pytest.approx(want[0], rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-11, atol=1e-13)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 200), d=st.integers(1, 5), seed=st.integers(0, 1000))
def test_sufficient_statistics_equal_the_readable_mse(n, d, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, d)), rng.normal(size=(n, 1))
    w, b = rng.normal(size=d), rng.normal(size=1)
    got = SufficientStatistics(X, y)(w, b)
    want = gradients(X, y, w, b, LOSSES["mse"])
    assert got[0] == pytest.approx(want[0], rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-9, atol=1e-12)


def test_sufficient_statistics_never_read_the_data_again():
    X, y, w, b = bench_data(500, 2, "float64")
    ss = SufficientStatistics(X, y)
    want = ss(w, b)
    X[:] = np.nan  # poison the data: an O(d²) step must not notice
    y[:] = np.nan
    got = ss(w, b)
    assert got[0] == want[0] and np.array_equal(got[1], want[1])


def test_bench_command_json_and_chart(tmp_path, capsys):
    code, out, _ = run_cli(
        capsys, "bench", "--sizes", "40", "200", "--repeats", "2", "--json", "--out", str(tmp_path),
        "--impls", "manual", "manual_fast", "torch_autograd", "torch_no_autograd",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert {r["impl"] for r in data["rows"]} == {
        "manual", "manual_fast", "torch_autograd", "torch_no_autograd",
    }  # fmt: skip
    for r in data["rows"]:
        for key in ("impl", "n", "loss", "dtype", "device", "median_s", "floor_s", "fresh_bytes"):
            assert key in r
        assert r["median_s"] > 0 and r["floor_s"] > 0 and r["n"] in (40, 200)
        assert r["min_s"] <= r["median_s"] <= r["max_s"] and r["iqr_s"] >= 0
        # Fresh bytes are minor page faults per step × the page size: whole pages per sample,
        # so the median of the samples' faults per step is a finite, non-negative number, and
        # at these N (at most 200 points) a step maps far less than one 40 MB temporary.
        assert math.isfinite(r["fresh_bytes"]) and 0 <= r["fresh_bytes"] < 10_000_000
    m = data["machine"]
    assert m["fresh_page_us_per_mb"] >= 0 and m["read_bandwidth_end_gb_s"] > 0
    assert isinstance(m["busy"], bool) and isinstance(m["busy_reasons"], list)
    assert data["machine"]["torch_threads"] >= 1 and data["machine"]["read_bandwidth_gb_s"] > 0
    assert [b["n"] for b in data["breakdown"]] == [40, 200]
    assert (tmp_path / "bench.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_table_output(capsys):
    code, out, _ = run_cli(
        capsys, "bench", "--sizes", "40", "--repeats", "1", "--impls", "manual", "torch_autograd",
    )  # fmt: skip
    assert code == 0
    assert "torch_autograd" in out and "× floor" in out and "backward" in out


def test_features_flag_times_steps_that_still_match_autograd(capsys):
    X, y, w0, b0 = bench_data(300, 3, "float64")
    cfg = BenchConfig(features=3, dtype="float64", impls=("manual", "manual_fast", "torch_linear"))
    w_ref, b_ref = reference_update(X, y, w0, b0, "l1", "sgd", steps=3)
    for name, s in make_steps(X, y, w0, b0, cfg).items():
        for _ in range(3):
            s.run()
        w, b = s.params()
        s.close()
        np.testing.assert_allclose(w, w_ref, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(b, b_ref, atol=1e-12, err_msg=name)
    code, out, _ = run_cli(
        capsys, "bench", "--sizes", "40", "--features", "3", "--repeats", "1", "--json",
        "--impls", "manual", "torch_autograd",
    )  # fmt: skip
    assert code == 0 and {r["features"] for r in json.loads(out)["rows"]} == {3}


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--sizes", "0"], "--sizes"),
        (["--repeats", "0"], "--repeats"),
        (["--threads", "0"], "--threads"),
        (["--threads", "99999"], "at most"),  # once a thread traceback and a segfault
        (["--sizes", "4294967296"], "limit"),  # once an 8 GiB allocation
        (["--features", "0"], "features"),
        (["--impls", "tensorflow"], "--impls"),
    ],
)
def test_bench_bad_input(capsys, argv, needle):
    code, out, err = run_cli(capsys, "bench", *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert needle in err and "Traceback" not in err


HOG = """
import sys, time
import numpy as np
end = time.time() + float(sys.argv[1])
blocks = []
while time.time() < end:  # burn a core and churn fresh memory
    blocks.append(np.ones(2_000_000))
    blocks = blocks[-40:]
"""


def test_a_bench_beside_a_busy_neighbour_says_so(capsys):
    import subprocess
    import sys

    hogs = [subprocess.Popen([sys.executable, "-c", HOG, "120"]) for _ in range(2)]
    try:
        code, out, err = run_cli(
            capsys, "bench", "--sizes", "40", "20000", "--repeats", "3", "--json",
            "--impls", "manual", "torch_autograd",
        )  # fmt: skip
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    data = json.loads(out)
    assert code == 0 and data["machine"]["busy"] is True
    assert any("other processes used" in r for r in data["machine"]["busy_reasons"])
    assert data["machine"]["others_cpu_cores"] > 0.25
    assert "the machine was busy" in err


def test_keep_freed_memory_rows_sit_beside_the_default_ones(capsys):
    code, out, err = run_cli(
        capsys, "bench", "--sizes", "10000000", "--repeats", "3", "--json", "--keep-freed-memory",
        "--impls", "torch_autograd",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["machine"]["keep_freed_env"]["MALLOC_MMAP_THRESHOLD_"]
    for r in data["rows"]:
        assert r["keep_freed_median_s"] > 0
        assert r["keep_freed_speedup"] == pytest.approx(r["median_s"] / r["keep_freed_median_s"])
    autograd = next(r for r in data["rows"] if r["impl"] == "torch_autograd")
    # At 10⁷ points each temporary is 40 MB: above the 32 MB ceiling of glibc's dynamic mmap
    # threshold, so the default run maps fresh pages every step, however much this process
    # allocated before; the kept-freed run reuses its heap.
    assert autograd["fresh_bytes"] > 10_000_000, autograd
    assert autograd["keep_freed_fresh_bytes"] < autograd["fresh_bytes"], autograd


def test_the_compiled_hand_step_is_offered_and_needs_no_graph():
    assert "torch_compiled_no_autograd" in IMPLS
    import torch

    from torch_impl.compiled import compile_hand_step

    X, y = torch.rand(50, 2, dtype=torch.float64), torch.rand(50, 1, dtype=torch.float64)
    w, b = torch.zeros(2, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    step = compile_hand_step("sgd")  # the compiled step itself, not its uncompiled source
    step(X, y, w, b, 0.1, "mse")
    assert not w.requires_grad and w.grad_fn is None and w.abs().sum() > 0
    # One SGD step on MSE from zero, by autograd: the compiled hand step must land there too.
    wr = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    br = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.mse_loss(X @ wr[:, None] + br, y).backward()
    torch.testing.assert_close(w, -0.1 * wr.grad, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(b, -0.1 * br.grad, rtol=1e-12, atol=1e-14)
