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
