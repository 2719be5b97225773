"""The hand-written optimizers against an outside peer, optax (scripts/optax_peer.py).

Where optax is installed (`pip install "jax[cpu]" optax`, not a dependency of this project:
JAX is over 600 MB), each pair set up with torch's semantics agrees to 1e-12 over fifty float64
steps, and each named difference opens a gap far above rounding. Without optax this file is
skipped, and says so; the measured table is in docs/derivations.md.
"""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("optax", reason="the optax peer needs `pip install 'jax[cpu]' optax`")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "optax_peer.py"
spec = importlib.util.spec_from_file_location("optax_peer", SCRIPT)
assert spec is not None and spec.loader is not None
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)


@pytest.mark.parametrize(("what", "gap", "agree"), peer.pairs(), ids=lambda v: str(v)[:40])
def test_each_optimizer_agrees_with_optax_or_differs_as_named(what, gap, agree):
    if agree:
        assert gap <= peer.AGREE, f"{what}: {gap:.2e}"
    else:  # a named difference: a gap far above a float64 rounding
        assert gap > 1e-6, f"{what}: {gap:.2e}"
