"""The course's data, made once in NumPy and handed bit-for-bit to both sides."""

import numpy as np
import pytest
import torch

from manual.data import make_line, true_weights
from torch_impl.data import to_tensor

from .. import course


def test_course_defaults_reproduce_the_printed_cells():
    s = make_line()
    X = np.concatenate([s.X_train, s.X_test])
    y = np.concatenate([s.y_train, s.y_test])
    assert (len(s.X_train), len(s.y_train), len(s.X_test), len(s.y_test)) == course.SPLIT_SIZES
    np.testing.assert_allclose(X[:10, 0], course.X_HEAD, atol=5e-5)
    np.testing.assert_allclose(y[:10, 0], course.Y_HEAD, atol=5e-5)
    assert X.dtype == y.dtype == np.float32 and X.shape == (50, 1) and y.shape == (50, 1)


def test_matches_the_notebooks_torch_cells_to_one_float32_rounding():
    X = torch.arange(0, 1, 0.02).unsqueeze(dim=1)
    y = 0.7 * X + 0.3
    s = make_line()
    ulp = np.spacing(np.float32(1))
    np.testing.assert_allclose(np.concatenate([s.X_train, s.X_test]), X.numpy(), atol=ulp)
    np.testing.assert_allclose(np.concatenate([s.y_train, s.y_test]), y.numpy(), atol=2 * ulp)


def test_y_is_computed_from_the_rounded_x_as_the_course_does():
    s = make_line()
    expected = np.float32(0.7) * s.X_train + np.float32(0.3)
    np.testing.assert_array_equal(s.y_train, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_both_sides_receive_bit_identical_arrays(dtype):
    s = make_line(features=3, noise=0.2, dtype=dtype)
    for array in (s.X_train, s.y_train, s.X_test, s.y_test):
        t = to_tensor(array)
        assert t.dtype == getattr(torch, dtype)
        assert t.numpy().tobytes() == array.tobytes()


def test_features_and_noise():
    clean = make_line(features=3, dtype="float64")
    assert clean.X_train.shape == (40, 3) and clean.true_weight.shape == (3,)
    np.testing.assert_allclose(clean.true_weight, [0.7, -0.35, 0.7 / 3])
    np.testing.assert_array_equal(clean.X_train[:, 0], np.arange(0, 1, 0.02)[:40])
    fitted = np.linalg.lstsq(
        np.column_stack([clean.X_train, np.ones(40)]), clean.y_train[:, 0], rcond=None
    )[0]
    np.testing.assert_allclose(fitted, [0.7, -0.35, 0.7 / 3, 0.3], atol=1e-12)

    noisy = make_line(features=3, noise=0.5, dtype="float64", step=0.0001)
    resid = noisy.y_train - (noisy.X_train @ noisy.true_weight[:, None] + 0.3)
    assert resid.std() == pytest.approx(0.5, rel=0.05)
    again = make_line(features=3, noise=0.5, dtype="float64", step=0.0001)
    np.testing.assert_array_equal(noisy.y_train, again.y_train)


def test_true_weights_first_is_the_course_weight():
    assert true_weights(0.7, 1).tolist() == [0.7]
