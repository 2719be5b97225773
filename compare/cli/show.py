"""`gradcompare show TOPIC`: one idea by hand (left) and by autograd (right), from live source.

The source is read from the files, not from imported modules, so `show` starts without torch.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

import manual
import torch_impl
from compare.config import OPTIMIZER_NAMES

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


# `show optimizer NAME`: the family's file by hand, beside the step torch.optim itself runs.
# Both sides name their files after the family; AdamW is Adam's (adam.py, _single_tensor_adam).
FAMILY_FILES = {name: "adam" if name == "adamw" else name for name in OPTIMIZER_NAMES}


def torch_optim_dir() -> Path:
    """torch/optim/ where torch is installed, found without importing torch (show stays fast)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        raise LookupError("torch is not installed here")
    return Path(next(iter(spec.submodule_search_locations))) / "optim"


def family_texts(name: str) -> tuple[str, str]:
    """(manual/optim/<family>.py, torch.optim's single-tensor step for it), as they are now."""
    module = FAMILY_FILES[name]
    mine = listing(_root(manual), [(f"optim/{module}", None)])
    return mine, source(torch_optim_dir(), module, f"_single_tensor_{module}")


def render(topic: str, console: Console, name: str | None = None) -> None:
    """Print the topic's two listings side by side, or stacked on a narrow terminal."""
    by_hand, by_autograd = TOPICS[topic]
    wide = console.width >= SIDE_BY_SIDE_MIN
    room = (console.width - 7) // 2 if wide else console.width - 4  # less borders, padding
    titles = ("manual/ — gradients by hand (NumPy)", "torch_impl/ — autograd does the work")
    if name is None:
        texts = listing(_root(manual), by_hand), listing(_root(torch_impl), by_autograd)
    else:
        texts = family_texts(name)
        titles = (f"manual/optim/{FAMILY_FILES[name]}.py — by hand", f"torch.optim — {name}'s step")
        topic = f"{topic} {name}"
    left = Syntax(wrapped(texts[0], room), "python", theme="ansi_dark")
    right = Syntax(wrapped(texts[1], room), "python", theme="ansi_dark")
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
