"""The static scan: where a by-hand file imports torch, read from its text, never run."""

from __future__ import annotations

import ast
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - Python 3.10
    pass


# CPython 3.11's ast.parse can fail when several threads parse at once ("SystemError: AST
# constructor recursion depth mismatch"), and a batch grades its students on threads: one at a time.
PARSING = threading.Lock()


def parse(source: str) -> ast.Module:
    """ast.parse, one thread at a time."""
    with PARSING:
        return ast.parse(source)


def torch_imports(folder: Path) -> dict[str, str]:
    """manual/ modules that import torch when imported (directly or through another), and where."""
    direct: dict[str, str] = {}
    uses: dict[str, set[str]] = {}
    files: dict[str, str] = {}
    for path in sorted((folder / "manual").rglob("*.py")):
        # manual/optim/sgd.py is "optim.sgd"; manual/optim/__init__.py is "optim"
        parts = path.relative_to(folder / "manual").with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        try:
            tree = parse(path.read_text())
        except (SyntaxError, ValueError, OSError):
            continue  # the child reports a syntax error with its line
        uses[name] = set()
        files[name] = path.relative_to(folder).as_posix()
        for node in _module_level(tree):
            roots = _imported(node)
            for root in roots:
                if root == "torch" and name not in direct:
                    direct[name] = f"{files[name]} line {getattr(node, 'lineno', '?')}"
                elif root.startswith("manual."):
                    dotted = root.split(".")[1:]  # a submodule's import runs its packages too
                    uses[name].update(".".join(dotted[:k]) for k in range(1, len(dotted) + 1))
    found = dict(direct)
    changed = True
    while changed:  # through helper modules: a module using one that uses torch uses torch
        changed = False
        for name, deps in uses.items():
            via = next((d for d in sorted(deps) if d in found), None)
            if name not in found and via is not None:
                found[name] = f"{found[via]} (through {files[via]})"
                changed = True
    return found


def _module_level(tree: ast.Module) -> list[ast.AST]:
    """Nodes that run when the module is imported: not inside a def or a class.

    An import inside a function is caught when it runs (probe.NoTorch), failing only the
    task that calls it; one at module level fails every task that imports the module.
    """
    out: list[ast.AST] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def _imported(node: ast.AST) -> list[str]:
    """Module names an AST node imports, including __import__("x") and import_module("x")."""
    if isinstance(node, ast.Import):
        return [a.name if a.name.startswith("manual") else a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        if node.level == 1:
            return [f"manual.{node.module}"]
        if node.module == "manual":
            return [f"manual.{a.name}" for a in node.names]
        return [node.module if node.module.startswith("manual.") else node.module.split(".")[0]]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in ("__import__", "import_module") and isinstance(node.args[0].value, str):
            return [str(node.args[0].value).split(".")[0]]
    return []
