"""One training step of every implementation, grouped by (loss, N, dtype, device).

pytest-benchmark's table then compares the implementations inside each group. Save a run with
--benchmark-autosave and compare later runs with --benchmark-compare (see the README).
"""

import functools

import numpy as np
import pytest
import torch

import manual.train
import torch_impl.train
from compare.bench.config import IMPLS, BenchConfig
from compare.bench.run import bench_data, make_steps
from compare.config import RunConfig
from compare.experiment import initial_model, make_data, optimizer_options, start_of
from manual.losses import LOSSES
from torch_impl.data import to_tensor
from torch_impl.losses import make_loss
from torch_impl.model import weight_and_bias

SIZES = (40, 10_000, 1_000_000, 10_000_000)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@functools.cache
def data(n, dtype):
    return bench_data(n, 1, dtype)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float32"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("loss", ["l1", "mse", "huber"])
def test_step(benchmark, loss, n, dtype, device, impl):
    X, y, w0, b0 = data(n, dtype)
    cfg = BenchConfig(
        loss=loss, dtype=dtype, device=device, impls=(impl,), threads=torch.get_num_threads()
    )
    step = make_steps(X, y, w0, b0, cfg)[impl]
    benchmark.group = f"{loss} N={n:,} {dtype} {device}"
    if step.compile_s is not None:
        benchmark.extra_info["compile_s"] = step.compile_s

    def run():
        step.run()
        step.sync()

    benchmark(run)
    step.close()
    assert np.all(np.isfinite(step.params()[0]))


COURSE = RunConfig(device="cpu")


@pytest.mark.parametrize("impl", IMPLS)
def test_course_100_epochs(benchmark, impl):
    """The whole course run: 100 epochs on the chapter's 40 points, each implementation."""
    benchmark.group = "course: 100 epochs, N=40, l1, float32, cpu"
    split = make_data(COURSE)
    w0, b0 = start_of(initial_model(COURSE, torch.device("cpu")))
    if impl == "manual":

        def run():
            opt = optimizer_options(COURSE)
            args = (split.X_train, split.y_train, split.X_test, split.y_test)
            return manual.train.fit(*args, (w0, b0), LOSSES["l1"], opt, 100)[0]

    elif impl == "torch_autograd":

        def run():
            model = initial_model(COURSE, torch.device("cpu"))
            tensors = [
                to_tensor(a) for a in (split.X_train, split.y_train, split.X_test, split.y_test)
            ]
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            torch_impl.train.fit(model, make_loss("l1"), opt, *tensors, 100)
            w, b = weight_and_bias(model)
            return w.detach().numpy(), b.detach().numpy()

    else:
        cfg = BenchConfig(loss="l1", impls=(impl,), threads=torch.get_num_threads())
        step = make_steps(split.X_train, split.y_train, w0, b0, cfg)[impl]

        def run():
            for _ in range(100):
                step.run()
            step.sync()
            return None

    result = benchmark(run)
    if result is not None:  # the two full runs start afresh each round: the chapter's numbers
        w, b = result
        assert (round(float(w[0]), 4), round(float(b[0]), 4)) == (0.5784, 0.3513)
    else:  # the step kernels keep stepping one model across rounds: they stay finite
        assert np.all(np.isfinite(step.params()[0]))
