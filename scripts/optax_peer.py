"""The hand-written optimizers (manual/optim/) against an outside peer: optax, on JAX.

Each pair runs the same gradients (fifty steps of noisy three-dimensional ones, float64) from
the same start, through our step and through optax's, set up as torch's semantics ask:
    RMSprop   optax.rmsprop(decay=α, eps_in_sqrt=False): optax puts ε inside the root by
              default, torch outside; plain, centered, with momentum
    Adamax    optax.adamax: the same update (ε inside the running max, as torch)
    RAdam     optax.radam(eps=0): torch adds ε to √v and then bias-corrects (so in effect
              ε/√(1 - β2ᵗ) beside √v̂), optax adds ε to √v̂; and optax rectifies when ρ_t ≥ 5,
              torch when ρ_t > 5 (equal unless ρ_t is exactly 5)
    Adagrad   optax.adagrad(initial_accumulator_value=…, eps=0): optax puts ε inside the root
              and starts its sums at 0.1, torch outside and at 0; it has no lr_decay
and each agrees to 1e-12. The differences are shown as well, each as the gap it opens:
    RMSprop   with optax's default eps_in_sqrt=True
    Adagrad   with ε = 1e-2 on both sides (inside the root, and outside it)
    RAdam     with ε = 1e-3 on both sides (before the bias correction, and after it)
    NAdam     optax.nadam is Adam with a Nesterov look-ahead and a constant β1; torch's NAdam
              follows Dozat's momentum schedule μ_t = β1·(1 - ½·0.96^(t·ψ)), so the two are
              different optimizers under one name: nothing to hold equal.
It needs only NumPy, JAX and optax (not torch): `pip install "jax[cpu]" optax`, then
`python scripts/optax_peer.py`. tests/proof/test_optax_peer.py runs the same where optax is
installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from manual.optim import FAMILIES, Adagrad, Adamax, NAdam, RAdam, RMSprop

STEPS, D = 50, 3
AGREE = 1e-12  # float64, fifty steps: a few ulps of rounding, far below this


def grads(seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """A start and fifty gradients: a drift with noise, so the moments have something to track."""
    rng = np.random.default_rng(seed)
    theta0 = rng.normal(size=D)
    return theta0, [0.3 + rng.normal(size=D) for _ in range(STEPS)]


def ours(name: str, opt: object, theta0: np.ndarray, gs: list[np.ndarray]) -> np.ndarray:
    _, _, init, step = FAMILIES[name]
    params, state = (theta0.copy(),), init((theta0,), opt)
    path = []
    for g in gs:
        params, state = step(params, (g,), state, opt)
        path.append(params[0].copy())
    return np.array(path)


def theirs(tx: object, theta0: np.ndarray, gs: list[np.ndarray]) -> np.ndarray:
    import jax.numpy as jnp
    import optax

    params = jnp.asarray(theta0)
    state = tx.init(params)  # type: ignore[attr-defined]
    path = []
    for g in gs:
        updates, state = tx.update(jnp.asarray(g), state, params)  # type: ignore[attr-defined]
        params = optax.apply_updates(params, updates)
        path.append(np.asarray(params))
    return np.array(path)


def pairs() -> list[tuple[str, float, bool]]:
    """(what, max |θ ours - θ optax| over the fifty steps, whether they should agree)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import optax

    theta0, gs = grads()
    lr = 0.01
    rows = []

    def row(what: str, name: str, mine: object, peer: object, agree: bool = True) -> None:
        gap = float(np.abs(ours(name, mine, theta0, gs) - theirs(peer, theta0, gs)).max())
        rows.append((what, gap, agree))

    row("RMSprop", "rmsprop", RMSprop(lr=lr, alpha=0.9, eps=1e-8),
        optax.rmsprop(lr, decay=0.9, eps=1e-8, eps_in_sqrt=False))  # fmt: skip
    row("RMSprop, centered", "rmsprop", RMSprop(lr=lr, alpha=0.9, eps=1e-8, centered=True),
        optax.rmsprop(lr, decay=0.9, eps=1e-8, eps_in_sqrt=False, centered=True))  # fmt: skip
    row("RMSprop, momentum 0.9", "rmsprop", RMSprop(lr=lr, alpha=0.9, eps=1e-8, momentum=0.9),
        optax.rmsprop(lr, decay=0.9, eps=1e-8, eps_in_sqrt=False, momentum=0.9))  # fmt: skip
    row("Adamax", "adamax", Adamax(lr=lr, betas=(0.9, 0.999), eps=1e-8),
        optax.adamax(lr, b1=0.9, b2=0.999, eps=1e-8))  # fmt: skip
    row("RAdam, ε = 0", "radam", RAdam(lr=lr, betas=(0.9, 0.999), eps=0.0),
        optax.radam(lr, b1=0.9, b2=0.999, eps=0.0))  # fmt: skip
    row("Adagrad, ε = 0", "adagrad", Adagrad(lr=lr, initial_accumulator_value=0.1, eps=0.0),
        optax.adagrad(lr, initial_accumulator_value=0.1, eps=0.0))  # fmt: skip
    # The differences, each as the gap it opens.
    row("RMSprop vs optax's default ε inside the root", "rmsprop",
        RMSprop(lr=lr, alpha=0.9, eps=1e-3),
        optax.rmsprop(lr, decay=0.9, eps=1e-3), False)  # fmt: skip
    row("Adagrad, ε = 1e-2: outside the root vs inside", "adagrad",
        Adagrad(lr=lr, initial_accumulator_value=0.1, eps=1e-2),
        optax.adagrad(lr, initial_accumulator_value=0.1, eps=1e-2), False)  # fmt: skip
    row("RAdam, ε = 1e-3: added to √v (torch) vs to √v̂ (optax)", "radam",
        RAdam(lr=lr, betas=(0.9, 0.999), eps=1e-3),
        optax.radam(lr, b1=0.9, b2=0.999, eps=1e-3), False)  # fmt: skip
    row("NAdam (Dozat's μ schedule) vs optax.nadam (constant β1)", "nadam",
        NAdam(lr=lr, betas=(0.9, 0.999), eps=1e-8),
        optax.nadam(lr, b1=0.9, b2=0.999, eps=1e-8), False)  # fmt: skip
    return rows


def main() -> int:
    import jax
    import optax

    print(f"optax {optax.__version__}, jax {jax.__version__}; {STEPS} float64 steps, d = {D}")
    bad = 0
    for what, gap, agree in pairs():
        verdict = ("agree" if gap <= AGREE else "DISAGREE") if agree else "differ (as named)"
        bad += (agree and gap > AGREE) or (not agree and gap <= AGREE)
        print(f"{what:58s} max |Δθ| {gap:9.2e}  {verdict}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
