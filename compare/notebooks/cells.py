"""A notebook's code cells, as Jupyter would run them, from a .ipynb or a .py file.

"Cell N" is the Nth code cell from the top, counted from 1. A .py file is one cell, or one
per `# %%` marker (the percent format editors share). IPython's own syntax is turned into
plain Python line for line, so that a traceback's line is the line the learner sees:
`%matplotlib` and other line magics become `pass`, shell escapes (`!pip`, `%pip`) are not run
and leave a warning, `%%time`-style cell magics run their body, and the rest of the cell
magics (`%%bash`, `%%writefile`, …) are skipped with a warning.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = re.compile(r"^(\s*)(%%?|!)(\w*)(.*)$")
SHELL_ASSIGN = re.compile(r"^(\s*)([\w.,\s]+?)\s*=\s*(!|%sx\b|%system\b)(.*)$")
HELP = re.compile(r"^(\s*)[\w.]+\s*\?\??\s*$|^(\s*)\?\??[\w.]+\s*$")
BODY_MAGICS = {"time", "timeit", "capture", "prun"}  # run the cell's body as it stands
QUIET = {"matplotlib", "load_ext", "reload_ext", "autoreload", "config", "precision"}


class CellsError(ValueError):
    """The file cannot be read as a notebook or a script; one line says why."""


@dataclass
class Cell:
    """One code cell: its number among code cells (from 1) and its runnable Python text."""

    number: int
    source: str  # as the learner wrote it
    code: str = ""  # IPython syntax turned into Python, the same lines
    warnings: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


def read_cells(path: Path) -> list[Cell]:
    """The code cells of a .ipynb (in file order) or a .py file; CellsError if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CellsError(f"{path}: cannot read it ({e})") from None
    sources = notebook_sources(text, path) if path.suffix == ".ipynb" else percent_cells(text)
    cells = [Cell(i + 1, src) for i, src in enumerate(sources)]
    for cell in cells:
        cell.code, cell.warnings = translate(cell.source)
    return cells


def notebook_sources(text: str, path: Path) -> list[str]:
    """The code cells' sources of a notebook's JSON (nbformat 4, or 3's worksheets)."""
    try:
        nb = json.loads(text)
    except ValueError as e:
        raise CellsError(f"{path}: not a notebook (its JSON does not parse: {e})") from None
    if not isinstance(nb, dict):
        raise CellsError(f"{path}: not a notebook (no cells)")
    raw = nb.get("cells")
    if raw is None and isinstance(nb.get("worksheets"), list) and nb["worksheets"]:
        raw = nb["worksheets"][0].get("cells")  # nbformat 3
    if not isinstance(raw, list):
        raise CellsError(f"{path}: not a notebook (no cells)")
    sources = []
    for cell in raw:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", cell.get("input", ""))
        if isinstance(src, list):
            src = "".join(str(s) for s in src)
        sources.append(str(src))
    return sources


def percent_cells(text: str) -> list[str]:
    """A script split at its `# %%` markers (markdown cells, `# %% [markdown]`, dropped)."""
    chunks: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines(keepends=True):
        if line.startswith("# %%"):
            chunks.append((line, []))
        else:
            chunks[-1][1].append(line)
    cells = [
        "".join(lines) for head, lines in chunks if "[markdown]" not in head and (head or lines)
    ]
    return [c for c in cells if c.strip()] or [""]


def translate(source: str) -> tuple[str, list[tuple[int, str]]]:
    """IPython syntax to Python, line for line, and what was left unrun."""
    lines = source.splitlines()
    warnings: list[tuple[int, str]] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].lstrip()[2:].split()[0] if lines[first].strip() != "%%" else ""
        if name not in BODY_MAGICS:
            warnings.append((first + 1, f"%%{name} cell not run"))
            return "\n".join("" for _ in lines), warnings
        lines[first] = ""
    out = []
    for n, line in enumerate(lines, start=1):
        assign = SHELL_ASSIGN.match(line)
        magic = MAGIC.match(line)
        if assign and not line.lstrip().startswith("#"):
            warnings.append((n, f"shell command not run: {assign.group(3)}{assign.group(4)}"))
            out.append(f"{assign.group(1)}{assign.group(2)} = []")
        elif magic and magic.group(2) in ("%", "!"):
            indent, kind, name, rest = magic.groups()
            if kind == "%" and name in ("time", "timeit") and rest.strip():
                out.append(indent + rest.strip().removeprefix("-n1 ").strip())
                continue
            if kind == "!" or name in ("pip", "conda", "sx", "system", "sh", "bash"):
                shown = f"{kind}{name}{rest}".strip()
                warnings.append((n, f"not run: {shown} (shell commands and %pip never run here)"))
            elif name not in QUIET:
                warnings.append((n, f"%{name} not run"))
            out.append(f"{indent}pass")
        elif HELP.match(line):
            out.append(line[: len(line) - len(line.lstrip())] + "pass")
        else:
            out.append(line)
    return "\n".join(out), warnings
