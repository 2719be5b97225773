"""What reading a notebook's code shows, without running it: device code and names.

On a CPU-only machine every tensor is on the CPU, so device code that is wrong on a GPU is
silent in the recording. Reading the cells finds it:
- `device_dropped_to`: `X.to(device)` as a statement; a tensor's .to() returns a new tensor
  (a module's moves in place, so `model.to(device)` is fine);
- `device_hard_coded`: the string "cuda" or "mps" chosen outside a test of its availability;
- `device_is_available_uncalled`: `torch.cuda.is_available` without its (): always true;
- `device_numpy`: .numpy() on a tensor with no .cpu() before it, in code that uses a device;
- `device_mixed`: the data moved to the device and not the model, or the other way round.
It also answers two questions an error raises: is an imported name ever used, and which cell
assigns a name first.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from compare.notebooks.cells import Cell

DEVICES = ("cuda", "mps")
MOVES = ("to", "cuda")


@dataclass(frozen=True)
class Note:
    """A warning found by reading: its id, cell and line, and the one line to read."""

    id: str
    cell: int
    line: int | None
    message: str


def parse(cell: Cell) -> ast.Module | None:
    try:
        return ast.parse(cell.code, filename=f"<cell {cell.number}>")
    except (SyntaxError, ValueError):
        return None


def is_available_test(node: ast.AST) -> bool:
    """The node mentions torch.cuda.is_available / torch.backends.mps.is_available."""
    return any(isinstance(n, ast.Attribute) and n.attr == "is_available" for n in ast.walk(node))


def chain_has(node: ast.AST, attr: str) -> bool:
    """An attribute call chain, e.g. y.detach().cpu().numpy(), calls `attr` somewhere."""
    while isinstance(node, ast.Call | ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute) and node.attr == attr:
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Call | ast.Attribute | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def moves_to_device(node: ast.AST) -> bool:
    """x.to(<not "cpu">), x.cuda(), or a factory's device=<not "cpu">, anywhere in node."""
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            if n.func.attr == "cuda":
                return True
            if n.func.attr == "to" and n.args and not is_cpu(n.args[0]):
                return not isinstance(n.args[0], ast.Attribute) or n.args[0].attr != "dtype"
        if isinstance(n, ast.Call):
            for kw in n.keywords:
                if kw.arg == "device" and not is_cpu(kw.value):
                    return True
    return False


def is_cpu(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == "cpu"


def device_notes(cells: list[Cell], kinds: dict[str, str]) -> tuple[list[Note], set[str]]:
    """The device warnings of these cells, and the names moved to a device.

    `kinds` tells tensors from modules (the run's namespace at its end)."""
    notes: list[Note] = []
    trees = [(c, parse(c)) for c in cells]
    uses_device = any(tree is not None and moves_to_device(tree) for _, tree in trees)
    on_device: set[str] = set()
    for cell, tree in trees:
        if tree is None:
            continue
        guarded = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If | ast.IfExp) and is_available_test(node.test)
            for n in ast.walk(node)
        }
        for node in ast.walk(tree):
            line = getattr(node, "lineno", None)
            if (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr in MOVES
            ):
                name = root_name(node.value.func.value)
                if name is not None and kinds.get(name) == "tensor":
                    notes.append(
                        Note(
                            "device_dropped_to",
                            cell.number,
                            line,
                            f"{name}.{node.value.func.attr}(…) returns a moved copy and "
                            f"this line drops it: write {name} = {name}."
                            f"{node.value.func.attr}(…)",
                        )
                    )
                elif name is not None and moves_to_device(node):
                    on_device.add(name)
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.split(":")[0] in DEVICES
                and id(node) not in guarded
            ):
                notes.append(
                    Note(
                        "device_hard_coded",
                        cell.number,
                        line,
                        f'the device "{node.value}" is hard-coded: this runs only '
                        "where it exists; choose it with torch.cuda.is_available()",
                    )
                )
            if isinstance(node, ast.Attribute) and node.attr == "is_available":
                parent_calls = any(
                    isinstance(p, ast.Call) and p.func is node for p in ast.walk(tree)
                )
                if not parent_calls:
                    notes.append(
                        Note(
                            "device_is_available_uncalled",
                            cell.number,
                            line,
                            "torch.cuda.is_available without () is a function, always "
                            "true: call it, torch.cuda.is_available()",
                        )
                    )
            if (
                uses_device
                and isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "numpy"
                and not chain_has(node.func.value, "cpu")
            ):
                notes.append(
                    Note(
                        "device_numpy",
                        cell.number,
                        line,
                        ".numpy() on a tensor that may be on the GPU fails there: "
                        "call .cpu() first (….detach().cpu().numpy())",
                    )
                )
            if isinstance(node, ast.Assign) and moves_to_device(node.value):
                for target in node.targets:
                    for n in ast.walk(target):
                        if isinstance(n, ast.Name):
                            on_device.add(n.id)
            elif isinstance(node, ast.Assign):
                names = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
                if names & on_device:
                    for target in node.targets:
                        on_device.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return notes, on_device


def mixed_note(
    model: str | None, data: str | None, on_device: set[str], cell: int, line: int | None
) -> Note | None:
    """device_mixed, when exactly one of the model and its input batch was moved."""
    if model is None or data is None or (model in on_device) == (data in on_device):
        return None
    moved, stayed = (model, data) if model in on_device else (data, model)
    return Note(
        "device_mixed",
        cell,
        line,
        f"{moved} is moved to the device and {stayed} is not: on a GPU they would meet "
        f"on two devices and fail; move both with .to(device)",
    )


def import_unused(cells: list[Cell], module: str) -> bool:
    """The names an `import module` (or `from module import …`) binds are used nowhere else."""
    bound: set[str] = set()
    used: set[str] = set()
    for cell in cells:
        tree = parse(cell)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == module.split(".")[0]:
                        bound.add(alias.asname or alias.name.split(".")[0])
            elif (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").split(".")[0] == module.split(".")[0]
            ):
                bound.update(alias.asname or alias.name for alias in node.names)
            elif isinstance(node, ast.Name):
                used.add(node.id)
    return bool(bound) and not (bound & used)


def first_assigned(cells: list[Cell], name: str) -> int | None:
    """The first cell that binds `name` (assignment, def, class, import, for), or None."""
    for cell in cells:
        tree = parse(cell)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
                return cell.number
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
                return cell.number
            if isinstance(node, ast.Import | ast.ImportFrom) and any(
                (a.asname or a.name.split(".")[0]) == name for a in node.names
            ):
                return cell.number
    return None
