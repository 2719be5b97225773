"""The CUDA path: same agreement on a GPU. Skipped cleanly where no GPU is present."""

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
