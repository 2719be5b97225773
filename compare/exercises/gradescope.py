"""Gradescope: its results.json for one gradebook, and an autograder zip that writes it.

Gradescope runs one container per submission, so a class of any size grades in parallel
there. The zip holds this package's source; setup.sh installs it with the CPU torch wheel and
bubblewrap, and run_autograder grades /autograder/submission into
/autograder/results/results.json (the root is $GRADCOMPARE_AUTOGRADER_ROOT when set).
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path
from typing import Any

from compare.exercises.results import Gradebook
from compare.files import atomic_write
from compare.isolation import package_root

TORCH = "torch==2.13.0"
CPU_WHEELS = "https://download.pytorch.org/whl/cpu"  # PyTorch's CPU-only wheel index
SOURCES = ("compare", "manual", "torch_impl")  # the packages the autograder installs
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE")

SETUP = f"""#!/usr/bin/env bash
# Gradescope runs this once, when the autograder is built.
set -euo pipefail
apt-get update -qq
apt-get install -y -qq bubblewrap python3 python3-venv python3-pip
python3 -m venv /opt/gradcompare
/opt/gradcompare/bin/pip install --quiet "{TORCH}" --index-url {CPU_WHEELS}
/opt/gradcompare/bin/pip install --quiet /autograder/source/gradcompare
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade it, write results/results.json.
set -uo pipefail
root="${GRADCOMPARE_AUTOGRADER_ROOT:-/autograder}"
python="${GRADCOMPARE_PYTHON:-/opt/gradcompare/bin/python}"
submission="$root/submission"
# The copy may be uploaded as its contents or as one folder holding them.
found=$(find "$submission" -maxdepth 3 -type d -name manual -print -quit)
[ -n "$found" ] && submission=$(dirname "$found")
mkdir -p "$root/results"
points=()
[ -f "$root/source/points.toml" ] && points=(--points "$root/source/points.toml")
"$python" -m compare exercises check "$submission" --student submission "${points[@]}" \\
    --gradescope "$root/results/results.json" > "$root/results/stdout.txt" 2>&1
code=$?
cat "$root/results/stdout.txt"
# 0: all passed, 1: some failed; both wrote results.json. Anything else is the grader's.
[ "$code" -le 1 ] || exit "$code"
"""


def results_json(book: Gradebook, visibility: str = "visible") -> dict[str, Any]:
    """Gradescope's results.json: the score, and one test per task with its own output."""
    return {
        "score": book.total,
        "output": f"{sum(t.passed for t in book.tasks)} of {len(book.tasks)} tasks passed "
        f"(seed {book.seed})",
        "visibility": visibility,
        "tests": [
            {
                "name": f"task {t.number}: {t.name}",
                "number": str(t.number),
                "score": t.points,
                "max_score": t.max_points,
                "output": t.line(),
                "visibility": visibility,
            }
            for t in book.tasks
        ],
    }


def write_results(book: Gradebook, path: Path) -> None:
    """results.json, written atomically (the folder is made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(results_json(book), indent=2).encode())


def autograder_zip(out: Path, points: Path | None = None) -> list[str]:
    """Write the autograder: setup.sh and run_autograder (executable), and this package.

    Returns the names in the zip.
    """
    root = package_root()
    buffer = io.BytesIO()
    names: list[str] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16  # executable once unzipped
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
            names.append(name)
        for package in SOURCES:
            for path in sorted((root / package).rglob("*.py")):
                arc = f"gradcompare/{path.relative_to(root).as_posix()}"
                z.write(path, arc)
                names.append(arc)
        for file in PROJECT_FILES:
            if (root / file).is_file():
                z.write(root / file, f"gradcompare/{file}")
                names.append(f"gradcompare/{file}")
        if not (root / "pyproject.toml").is_file():  # installed from a wheel: say what it is
            z.writestr("gradcompare/pyproject.toml", _pyproject())
            names.append("gradcompare/pyproject.toml")
        if points is not None:
            z.write(points, "points.toml")
            names.append("points.toml")
    atomic_write(out, buffer.getvalue())
    return names


def _pyproject() -> str:
    """A pyproject.toml for this package as installed, when its own is not at hand."""
    from importlib.metadata import PackageNotFoundError, requires, version

    try:
        deps, release = (
            [r for r in requires("gradcompare") or [] if "extra" not in r],
            version("gradcompare"),
        )
    except PackageNotFoundError:
        deps, release = ["numpy", "torch", "matplotlib", "safetensors", "rich"], "0"
    listed = ", ".join(json.dumps(d) for d in deps)
    return (
        '[build-system]\nrequires = ["setuptools>=69"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "gradcompare"\nversion = "{release}"\ndependencies = [{listed}]\n'
        '[project.scripts]\ngradcompare = "compare.cli:main"\n'
        '[tool.setuptools.packages.find]\ninclude = ["manual*", "torch_impl*", "compare*"]\n'
    )
