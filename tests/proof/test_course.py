"""Both implementations reproduce the course chapter's printed numbers.

Two independent references: the chapter's printed output (tests/course.py), and a line-by-line
transcription of the notebook's own plain-torch loop, which uses none of this project's code.
"""

import numpy as np
import pytest
import torch
from torch import nn

from compare.config import RunConfig
from compare.experiment import run_both

from .. import course


def notebook_model_0(epochs=100):
    """The chapter's cells, transcribed; returns per-epoch (train, test, weight, bias)."""
    weight, bias = 0.7, 0.3
    X = torch.arange(0, 1, 0.02).unsqueeze(dim=1)
    y = weight * X + bias
    train_split = int(0.8 * len(X))
    X_train, y_train = X[:train_split], y[:train_split]
    X_test, y_test = X[train_split:], y[train_split:]

    torch.manual_seed(42)
    model_0 = course.LinearRegressionModel()
    loss_fn = nn.L1Loss()
    optimizer = torch.optim.SGD(params=model_0.parameters(), lr=0.01)
    rows = []
    for _ in range(epochs):
        model_0.train()
        y_pred = model_0(X_train)
        loss = loss_fn(y_pred, y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model_0.eval()
        with torch.inference_mode():
            test_pred = model_0(X_test)
            test_loss = loss_fn(test_pred, y_test.type(torch.float))
        rows.append((loss.item(), test_loss.item(), model_0.weights.item(), model_0.bias.item()))
    return np.array(rows)


@pytest.fixture(scope="module")
def course_run():
    return run_both(RunConfig())


def test_the_transcription_prints_what_the_chapter_printed():
    rows = notebook_model_0()
    for epoch, (train, test) in course.MODEL_0_LOSSES.items():
        assert rows[epoch, 0] == train and rows[epoch, 1] == test
    assert tuple(np.round(rows[-1, 2:], 4)) == course.MODEL_0_FINAL


def test_both_sides_start_where_the_course_starts(course_run):
    assert round(course_run.initial_weight[0], 4) == course.MODEL_0_START[0]
    assert round(course_run.initial_bias, 4) == course.MODEL_0_START[1]


@pytest.mark.parametrize("side", ["manual", "torch"])
def test_printed_losses_and_parameters(course_run, side):
    t = getattr(course_run, side)
    for epoch, (train, test) in course.MODEL_0_LOSSES.items():
        # Within float32 rounding: the data is rounded once from float64, not by torch.arange.
        assert t.train_loss[epoch] == pytest.approx(train, rel=1e-6, abs=1e-8)
        assert t.test_loss[epoch] == pytest.approx(test, rel=1e-6, abs=1e-8)
    for epoch, (w, b) in course.MODEL_0_PARAMS.items():
        assert (round(t.weight[epoch, 0], 4), round(t.bias[epoch], 4)) == (w, b)
    assert (round(t.weight[-1, 0], 4), round(t.bias[-1], 4)) == course.MODEL_0_FINAL
    preds = t.weight[-1, 0] * course_run.split.X_test[:, 0] + t.bias[-1]
    np.testing.assert_allclose(preds, course.MODEL_0_TEST_PREDICTIONS, atol=6e-5)


@pytest.mark.parametrize("side", ["manual", "torch"])
def test_every_epoch_matches_the_notebook_transcription(course_run, side):
    rows = notebook_model_0()
    t = getattr(course_run, side)
    np.testing.assert_allclose(t.train_loss, rows[:, 0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(t.test_loss, rows[:, 1], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(t.weight[:, 0], rows[:, 2], rtol=1e-6)
    np.testing.assert_allclose(t.bias, rows[:, 3], rtol=1e-6)


def test_nn_linear_model_reproduces_the_chapters_model_1():
    c = run_both(RunConfig(model="linear", epochs=200))
    assert (round(c.initial_weight[0], 4), round(c.initial_bias, 4)) == course.MODEL_1_START
    for side in (c.manual, c.torch):
        for epoch, (train, test) in course.MODEL_1_LOSSES.items():
            assert side.train_loss[epoch] == pytest.approx(train, rel=1e-5, abs=1e-8)
            assert side.test_loss[epoch] == pytest.approx(test, rel=1e-5, abs=1e-8)
    assert c.agree
