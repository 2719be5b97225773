"""gradcompare show: the two codes side by side, from the live source, never a solution marker."""

import pytest
from rich.console import Console

from compare.cli.show import TOPICS, render

from ..cli_helpers import run_cli


@pytest.mark.parametrize("width", [60, 100, 200])
@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_show_every_topic_at_narrow_and_wide_widths(topic, width):
    console = Console(width=width, record=True, color_system=None)
    render(topic, console)
    text = console.export_text()
    assert "by hand" in text and "autograd" in text
    assert max(len(line) for line in text.splitlines()) <= width
    stacked = text.index("autograd does the work") > text.index("def ")
    assert stacked == (width < 140)
    assert "BEGIN SOLUTION" not in text


def test_show_step_puts_backward_on_the_right():
    console = Console(width=200, record=True, color_system=None)
    render("step", console)
    rows = [line for line in console.export_text().splitlines() if "backward()" in line]
    assert rows and all(line.index("backward()") > 100 for line in rows)


def test_show_cli(capsys):
    code, out, _ = run_cli(capsys, "show", "loop")
    assert code == 0 and "def fit(" in out
    code, _, err = run_cli(capsys, "show", "nonsense")
    assert code == 2 and "invalid choice" in err


@pytest.mark.parametrize(
    ("name", "mine", "theirs"),
    [("rmsprop", "def rmsprop_step(", "square_avg.mul_(alpha)"),
     ("adamw", "def adam_step(", "def _single_tensor_adam("),
     ("rprop", "def rprop_step(", "step_size.mul_(sign)")],
)  # fmt: skip
def test_show_optimizer_name_puts_the_family_beside_torch_optims_own_step(name, mine, theirs):
    console = Console(width=200, record=True, color_system=None)
    render("optimizer", console, name)
    rows = console.export_text().splitlines()
    assert any(mine in line and line.index(mine) < 100 for line in rows)
    assert any(theirs in line and line.index(theirs) > 100 for line in rows)


def test_show_optimizer_with_an_unknown_name_is_one_line(capsys):
    code, out, err = run_cli(capsys, "show", "optimizer", "lbfgs")
    assert code == 2 and out == "" and err.count("\n") == 1 and "rmsprop" in err
    code, _, err = run_cli(capsys, "show", "loss", "rmsprop")
    assert code == 2 and "show loss takes no NAME" in err
