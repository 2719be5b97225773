"""The house rules: manual/ never imports torch, torch_impl/ never imports manual."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_roots(package):
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                yield from ((path, a.name.split(".")[0]) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module.split(".")[0]


@pytest.mark.parametrize(("package", "forbidden"), [("manual", "torch"), ("torch_impl", "manual")])
def test_no_forbidden_imports(package, forbidden):
    offenders = [str(p) for p, root in imported_roots(package) if root == forbidden]
    assert not offenders


def modules(package):
    """Every module of the package, found by walking its folder."""
    return sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / package).rglob("*.py")
        if p.name != "__init__.py"
    )


def test_importing_every_manual_module_loads_no_torch():
    names = modules("manual")
    assert len(names) >= 9  # the walk found the package
    code = f"import importlib, sys\nfor n in {names!r}: importlib.import_module(n)\n"
    code += "bad = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]\n"
    code += "assert not bad, 'manual imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# Files with no twin, and why; README.md's mirroring table says the same.
NO_TWIN = {
    "manual/fast.py": "the derivation rewritten for speed; torch's speed-ups are compiled.py",
    "manual/exercise.py": "the chapter's exercise by hand; the torch run is the reference",
    "manual/schedule_state.py": "a schedule's state written out; torch's is scheduler.state_dict()",
    "torch_impl/compiled.py": "torch.compile of the course's step; NumPy has no compiler",
    "torch_impl/device.py": "CPU or CUDA; NumPy runs on the CPU only",
    "torch_impl/nograd.py": "the hand gradient in torch ops, to time autograd's own cost",
}


def test_every_module_has_a_twin_or_a_stated_reason():
    def files(package):  # a folder of one family per file is one module: optim/ twins optim.py
        found = {p.name for p in (ROOT / package).glob("*.py")} - {"__init__.py"}
        return found | {f"{p.parent.name}.py" for p in (ROOT / package).glob("*/__init__.py")}

    manual, torch_side = files("manual"), files("torch_impl")
    alone = {f"manual/{n}" for n in manual - torch_side}
    alone |= {f"torch_impl/{n}" for n in torch_side - manual}
    assert alone == set(NO_TWIN)
    readme = (ROOT / "README.md").read_text()
    for name in sorted(manual | torch_side):
        assert f"{name}`" in readme, f"README's mirroring table does not list {name}"


PACKAGES = ("manual", "torch_impl", "compare")


def module_of(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """module -> the project's modules it imports, anywhere in its text (a function's body,
    TYPE_CHECKING): an import that runs only later still ties the two files together."""
    files = {module_of(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if target in files and target != name and not name.startswith(target + "."):
                    found.add(target)
        graph[name] = found
    return graph


def cycle_in(graph):
    """One import cycle as a list of modules, or None; found by depth-first search."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_cycle():
    """No cycle means every import points down a layering; the planted one proves the search."""
    graph = import_graph()
    assert len(graph) > 60 and "compare.experiment" in graph["compare.plots"]
    assert cycle_in(graph) is None, " -> ".join(cycle_in(graph))
    planted = {**graph, "compare.experiment": graph["compare.experiment"] | {"compare.plots"}}
    assert cycle_in(planted) is not None


def lines_of(path):
    return len(path.read_text().splitlines())


def test_teaching_files_stay_small_and_compare_modules_hold_one_job():
    for package in ("manual", "torch_impl"):
        for path in (ROOT / package).rglob("*.py"):
            name = str(path.relative_to(ROOT))
            most = 100 if path.stem == "checkpoint" else 150
            assert lines_of(path) <= most, f"{name}: {lines_of(path)} lines"
    for path in (ROOT / "compare").rglob("*.py"):
        assert lines_of(path) <= 450, f"{path.relative_to(ROOT)}: {lines_of(path)} lines"


def test_atomic_write_is_written_once():
    defined = [
        str(p.relative_to(ROOT))
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name in ("atomic_write", "atomic_save")
    ]
    assert sorted(defined) == ["compare/files.py", "compare/files.py"]
