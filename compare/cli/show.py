"""`gradcompare show TOPIC`: one idea by hand (left) and by autograd (right), from live source.

The source is read from the files, not from imported modules, so `show` starts without torch.
"""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

import manual
import torch_impl

SIDE_BY_SIDE_MIN = 140  # columns below which the two listings are stacked instead
# topic -> (manual side, torch side); each a list of (file, name), name None for the whole file
Listing = list[tuple[str, str | None]]
TOPICS: dict[str, tuple[Listing, Listing]] = {
    "data": ([("data", "make_line")], [("data", "to_tensor"), ("data", "make_loader")]),
    "model": ([("model", "forward")], [("model", "LinearRegressionModel")]),
    "loss": (
        [("losses", n) for n in ("l1", "l1_grad", "mse", "mse_grad", "huber", "huber_grad")],
        [("losses", None)],
    ),
    "step": ([("gradients", "backward"), ("gradients", "gradients")], [("train", "train_step")]),
    "optimizer": (
        [("optim/sgd", "sgd_direction"), ("optim/sgd", "sgd_update"), ("optim/sgd", "sgd_step")],
        [("optim", None)],
    ),
    "loop": ([("train", "fit")], [("train", "fit")]),
    "checkpoint": (
        [("checkpoint", "save"), ("checkpoint", "load")],
        [("checkpoint", n) for n in ("save_state_dict", "load_state_dict", "run_dict")],
    ),
}


def source(package: Path, module: str, name: str | None) -> str:
    """The current text of `name` (a top-level def or class) in package/module.py."""
    text = (package / f"{module}.py").read_text()
    if name is None:
        return text
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            return ast.get_source_segment(text, node, padded=True) or ""
    raise LookupError(f"{module}.py has no top-level {name}")


def listing(package: Path, parts: Listing) -> str:
    """The listed pieces as the files hold them now, minus exercise markers."""
    text = "\n\n".join(source(package, m, n).rstrip() for m, n in parts)
    markers = ("# BEGIN SOLUTION", "# END SOLUTION")
    return "\n".join(line for line in text.splitlines() if not any(m in line for m in markers))


CONTINUED = "↪ "  # marks a wrapped line's continuation, indented under its start


def wrapped(code: str, width: int) -> str:
    """Code lines longer than `width` broken at a space, each continuation indented four
    more than its line and marked, so it cannot be read as a new statement."""
    out = []
    for line in code.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        hang = " " * (indent + 4) + CONTINUED
        while len(line) > width:
            cut = line.rfind(" ", len(hang) + 1, width)
            if cut <= indent:
                break  # one long token: leave it whole
            out.append(line[:cut])
            line = hang + line[cut + 1 :]
        out.append(line)
    return "\n".join(out)


def render(topic: str, console: Console) -> None:
    """Print the topic's two listings side by side, or stacked on a narrow terminal."""
    by_hand, by_autograd = TOPICS[topic]
    wide = console.width >= SIDE_BY_SIDE_MIN
    room = (console.width - 7) // 2 if wide else console.width - 4  # less borders, padding
    left = Syntax(wrapped(listing(_root(manual), by_hand), room), "python", theme="ansi_dark")
    right = Syntax(
        wrapped(listing(_root(torch_impl), by_autograd), room), "python", theme="ansi_dark"
    )
    titles = ("manual/ — gradients by hand (NumPy)", "torch_impl/ — autograd does the work")
    if wide:
        table = Table(title=f"{topic}: the same idea twice", expand=True, show_lines=False)
        table.add_column(titles[0], ratio=1)
        table.add_column(titles[1], ratio=1)
        table.add_row(left, right)
        console.print(table)
    else:
        console.print(Group(Panel(left, title=titles[0]), Panel(right, title=titles[1])))


def _root(package: ModuleType) -> Path:
    return Path(str(package.__file__)).parent
