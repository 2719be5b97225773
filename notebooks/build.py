"""Build the notebooks from their Markdown sources, so a notebook and its page never drift.

    python notebooks/build.py          # rewrite both notebooks, without outputs

Each ```python block becomes a code cell and the text between blocks a Markdown cell. The
test suite rebuilds them in memory and fails if a committed notebook differs, then runs both.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "01_workflow_side_by_side.ipynb": ROOT / "docs" / "walkthrough.md",
    "02_exercises.ipynb": ROOT / "notebooks" / "02_exercises.md",
}
BLOCK = re.compile(r"```python\n(.*?)```\n?", re.S)
LINK = re.compile(r"\]\((?!https?:|#|/)([^)]+)\)")  # a relative Markdown link's target


def relinked(markdown: str, source: Path) -> str:
    """Relative links written for the source's folder, pointed at the same files from here."""
    here = ROOT / "notebooks"
    return LINK.sub(
        lambda m: "](" + os.path.relpath(source.parent / m.group(1), here) + ")", markdown
    )


def notebook(markdown: str) -> nbformat.NotebookNode:
    """Markdown with ```python blocks as a notebook: text cells and code cells, in order."""
    cells = []
    at = 0
    for block in BLOCK.finditer(markdown):
        text = markdown[at : block.start()].strip()
        if text:
            cells.append(nbformat.v4.new_markdown_cell(text))
        cells.append(nbformat.v4.new_code_cell(block.group(1).rstrip("\n")))
        at = block.end()
    tail = markdown[at:].strip()
    if tail:
        cells.append(nbformat.v4.new_markdown_cell(tail))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: a rebuild changes nothing
    return nb


def build(name: str) -> nbformat.NotebookNode:
    """The notebook `name` as its source says it should be."""
    return notebook(relinked(SOURCES[name].read_text(), SOURCES[name]))


def main() -> int:
    for name in SOURCES:
        nbformat.write(build(name), ROOT / "notebooks" / name)
        print(f"wrote notebooks/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
