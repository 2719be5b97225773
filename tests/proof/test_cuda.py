"""The CUDA path: same agreement on a GPU. Skipped cleanly where no GPU is present."""

import numpy as np
import pytest
import torch

from compare.config import RunConfig
from compare.experiment import run_both
from torch_impl.device import resolve_device

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine"),
]


def test_auto_picks_cuda():
    assert resolve_device("auto").type == "cuda"


@pytest.mark.parametrize("loss", ["l1", "mse", "huber"])
@pytest.mark.parametrize("model", ["parameter", "linear"])
def test_float64_on_gpu_agrees_within_1e_12(loss, model):
    c = run_both(
        RunConfig(
            loss=loss,
            model=model,
            dtype="float64",
            device="cuda",
            features=3,
            noise=0.1,
            epochs=300,
            momentum=0.9,
            lr=0.02,
        )
    )
    assert c.device.startswith("cuda")
    assert c.param_diff.max() <= 1e-12


def test_course_on_gpu():
    c = run_both(RunConfig(device="cuda"))
    assert c.agree
    assert (round(c.torch.weight[-1, 0], 4), round(c.torch.bias[-1], 4)) == (0.5784, 0.3513)


def test_minibatch_adam_on_gpu():
    c = run_both(
        RunConfig(device="cuda", dtype="float64", batch_size=8, shuffle=True, optimizer="adam",
                  epochs=50, features=2, noise=0.1)
    )  # fmt: skip
    assert c.param_diff.max() <= 1e-10


def test_a_gpu_checkpoint_loads_on_the_cpu(tmp_path):
    from compare.checkpoints.torch_files import load
    from compare.one_side import predict, train_single

    path = tmp_path / "gpu.pth"
    train_single(RunConfig(device="cuda", epochs=5), "torch", save=path)
    ck = load(path, map_location="cpu")
    assert ck.weight.device.type == "cpu"
    _, on_cpu = predict(path, "manual", [0.5])
    expected = ck.weight.numpy() * 0.5 + ck.bias.numpy()  # the checkpoint's own line at 0.5
    np.testing.assert_allclose(on_cpu, expected, rtol=1e-6)


def test_bench_on_gpu_synchronises_and_matches_the_reference():
    import numpy as np

    from compare.bench.config import BenchConfig
    from compare.bench.run import bench_data, make_steps

    X, y, w0, b0 = bench_data(1000, 1, "float64")
    impls = ("manual", "torch_autograd", "torch_no_autograd")
    steps = make_steps(X, y, w0, b0, BenchConfig(device="cuda", dtype="float64", impls=impls))
    for s in steps.values():
        s.run()
        s.sync()
    ref = steps["manual"].params()
    for name in impls[1:]:
        np.testing.assert_allclose(steps[name].params()[0], ref[0], atol=1e-12)
