"""The house rules: manual/ never imports torch, torch_impl/ never imports manual."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
    "torch_impl/compiled.py": "torch.compile of the course's step; NumPy has no compiler",
    "torch_impl/device.py": "CPU or CUDA; NumPy runs on the CPU only",
    "torch_impl/nograd.py": "the hand gradient in torch ops, to time autograd's own cost",
}


def test_every_module_has_a_twin_or_a_stated_reason():
    manual = {p.name for p in (ROOT / "manual").glob("*.py")} - {"__init__.py"}
    torch_side = {p.name for p in (ROOT / "torch_impl").glob("*.py")} - {"__init__.py"}
    alone = {f"manual/{n}" for n in manual - torch_side}
    alone |= {f"torch_impl/{n}" for n in torch_side - manual}
    assert alone == set(NO_TWIN)
    readme = (ROOT / "README.md").read_text()
    for name in sorted(manual | torch_side):
        assert f"{name}`" in readme, f"README's mirroring table does not list {name}"
