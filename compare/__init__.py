"""Runs the hand-derived and the autograd implementations side by side and proves they agree.

This is the only package that imports both ``manual`` and ``torch_impl``. For notebooks:

    import compare
    c = compare.run(loss="mse", lr=0.1, epochs=300)   # both sides; renders as a table
    c.plot("loss_landscape")                          # any of compare.FIGURES, a Figure
    compare.check_gradients(c)                        # hand vs autograd vs central difference
    compare.benchmark(sizes=(40, 1_000_000))          # time the steps; renders as a table

Names are imported on first use, so `import compare` (and the command line) stays light.
"""

from __future__ import annotations

import importlib

# Not `bench` or `diagnose`: those are subpackages, and an imported subpackage would shadow
# a function of the same name here.
__all__ = ["FIGURES", "RunConfig", "benchmark", "check", "check_gradients", "diagnose_loop", "run"]


def __getattr__(name: str) -> object:
    if name in __all__:
        return getattr(importlib.import_module("compare.api"), name)
    raise AttributeError(f"module 'compare' has no attribute {name!r}")
