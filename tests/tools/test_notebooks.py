"""Both notebooks: built from their Markdown sources, committed without outputs, and run
top to bottom in a Jupyter kernel, where a cell that raises fails the test."""

import re
import runpy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
BUILD = runpy.run_path(str(ROOT / "notebooks" / "build.py"))
NAMES = sorted(BUILD["SOURCES"])
TIMEOUT_S = 600  # per notebook; generous, for a loaded 2-core machine


@pytest.mark.parametrize("name", NAMES)
def test_a_notebook_is_its_source_and_holds_no_outputs(name):
    committed = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    built = BUILD["build"](name)
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in built.cells
    ], f"notebooks/{name} differs from its source: run python notebooks/build.py"
    assert all(not c.get("outputs") and not c.get("execution_count") for c in committed.cells
               if c.cell_type == "code")  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_a_notebook_runs_top_to_bottom(name, tmp_path):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()  # raises CellExecutionError on the first cell that fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert html, "a result object should render as a table"
    if name.startswith("01"):
        assert len(images) >= 5  # plot_predictions twice, predictions, loss curves, landscapes
        assert any("AGREE" in o["data"]["text/html"] for o in html)


def _tree(root: Path) -> set[str]:
    skip = {".git", ".venv", ".venv-ci", "__pycache__", ".pytest_cache", ".ruff_cache",
            ".mypy_cache", ".hypothesis", ".benchmarks"}  # fmt: skip
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if not skip & set(p.relative_to(root).parts) and not p.name.endswith(".egg-info")
    }


def test_the_exercises_notebook_runs_twice_in_place_and_leaves_the_repo_as_it_was():
    """Executed where it lives, as a learner opens it: nothing is left in the checkout."""
    before = _tree(ROOT)
    for _ in range(2):
        nb = nbformat.read(ROOT / "notebooks" / "02_exercises.ipynb", as_version=4)
        client = NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT / "notebooks")}})  # fmt: skip
        client.execute()
    assert _tree(ROOT) == before


def test_the_walkthroughs_links_work_from_the_notebooks_folder():
    nb = nbformat.read(ROOT / "notebooks" / "01_workflow_side_by_side.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    links = re.findall(r"\]\((?!https?:|#)([^)]+)\)", text)
    assert links, "the walkthrough links to the other docs"
    for link in links:
        assert (ROOT / "notebooks" / link.split("#")[0]).exists(), link
