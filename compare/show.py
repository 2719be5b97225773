"""`gradcompare show TOPIC`: one idea by hand (left) and by autograd (right), from live source."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

import manual.checkpoint
import manual.data
import manual.gradients
import manual.losses
import manual.model
import manual.optim
import manual.train
import torch_impl.checkpoint
import torch_impl.data
import torch_impl.losses
import torch_impl.model
import torch_impl.optim
import torch_impl.train

SIDE_BY_SIDE_MIN = 140  # columns below which the two listings are stacked instead

TOPICS: dict[str, tuple[list[Callable | type | object], list[Callable | type | object]]] = {
    "data": ([manual.data.make_line], [torch_impl.data.to_tensor, torch_impl.data.make_loader]),
    "model": ([manual.model.forward], [torch_impl.model.LinearRegressionModel]),
    "loss": (
        [manual.losses.l1, manual.losses.l1_grad, manual.losses.mse, manual.losses.mse_grad],
        [torch_impl.losses],
    ),
    "step": (
        [manual.gradients.backward, manual.gradients.gradients],
        [torch_impl.train.train_step],
    ),
    "optimizer": (
        [manual.optim.sgd_direction, manual.optim.sgd_update, manual.optim.sgd_step],
        [torch_impl.optim.make_sgd],
    ),
    "loop": ([manual.train.fit], [torch_impl.train.fit]),
    "checkpoint": (
        [manual.checkpoint.save, manual.checkpoint.load],
        [torch_impl.checkpoint.save, torch_impl.checkpoint.load],
    ),
}


def listing(objects: list[Callable | type | object]) -> str:
    """The current source of each object, as the files hold it now, minus exercise markers."""
    text = "\n\n".join(inspect.getsource(obj).rstrip() for obj in objects)
    return "\n".join(line for line in text.splitlines() if "# BEGIN SOLUTION" not in line
                     and "# END SOLUTION" not in line)  # fmt: skip


def render(topic: str, console: Console) -> None:
    """Print the topic's two listings side by side, or stacked on a narrow terminal."""
    by_hand, by_autograd = TOPICS[topic]
    left = Syntax(listing(by_hand), "python", word_wrap=True, theme="ansi_dark")
    right = Syntax(listing(by_autograd), "python", word_wrap=True, theme="ansi_dark")
    titles = ("manual/ — gradients by hand (NumPy)", "torch_impl/ — autograd does the work")
    if console.width >= SIDE_BY_SIDE_MIN:
        table = Table(title=f"{topic}: the same idea twice", expand=True, show_lines=False)
        table.add_column(titles[0], ratio=1)
        table.add_column(titles[1], ratio=1)
        table.add_row(left, right)
        console.print(table)
    else:
        console.print(Group(Panel(left, title=titles[0]), Panel(right, title=titles[1])))
