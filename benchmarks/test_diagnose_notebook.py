"""Diagnosing a notebook against running it plain with nbclient, measured in the same run.

    python -m pytest benchmarks/test_diagnose_notebook.py --benchmark-only -n 0 -s

The plain run is the notebook executed by nbclient on an ipykernel (what "Run all" does);
the diagnosis is `diagnose_notebook`, its cells in the sandbox under the recording hooks,
then every step replayed by hand. The ratio is printed and kept in extra_info; the target
is at most 2×. No timed test asserts it.
"""

import statistics
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from compare.notebooks.run import diagnose_notebook

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "mistakes" / "notebooks" / "chapter.ipynb"


def plain_s(path: Path, repeats: int = 3) -> float:
    """The median time for nbclient to run the notebook, kernel start included."""
    times = []
    for _ in range(repeats):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_diagnosing_a_notebook_against_running_it_plain(benchmark, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the plain run saves its model here, not beside the notebook
    work = tmp_path / "chapter.ipynb"
    work.write_bytes(NOTEBOOK.read_bytes())
    plain = plain_s(work)
    benchmark.pedantic(lambda: diagnose_notebook(work), rounds=3, iterations=1)
    diagnosed = benchmark.stats.stats.median
    ratio = diagnosed / plain
    benchmark.extra_info.update(plain_s=plain, diagnose_s=diagnosed, ratio=ratio)
    print(
        f"\nplain nbclient run {plain:.2f} s; diagnosis {diagnosed:.2f} s; "
        f"{ratio:.2f}× (target ≤ 2×)"
    )
