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


def test_importing_manual_loads_no_torch():
    code = (
        "import sys, manual.train, manual.data, manual.optim;"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_every_manual_module_has_a_torch_twin_where_the_concept_exists():
    manual = {p.name for p in (ROOT / "manual").glob("*.py")}
    torch_side = {p.name for p in (ROOT / "torch_impl").glob("*.py")}
    twins = (
        "data.py",
        "model.py",
        "losses.py",
        "gradients.py",
        "optim.py",
        "train.py",
        "checkpoint.py",
    )
    for name in twins:
        assert name in manual and name in torch_side
