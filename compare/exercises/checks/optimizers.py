"""Tasks 7, 8 and 12: SGD's update and direction, and Adam, judged against torch.optim."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from compare.exercises.checks.common import (
    DTYPES,
    Case,
    Fail,
    Plan,
    answer_cases,
    as_tensor,
    cases_each,
    drawn_shapes,
    expect_close,
    fail_overwrites,
    judged,
    keeps_hint,
    seeded,
)

# ----------------------------------------------------------------------- task 7: sgd_update


def build_sgd_update(rng: np.random.Generator) -> Plan:
    calls, refs = [], []
    for _, d, dt in drawn_shapes(rng):
        theta, direction = seeded(rng, (d,), dt), seeded(rng, (d,), dt)
        lr = float(rng.choice([0.01, 0.05, 0.3]))
        p = torch.nn.Parameter(as_tensor(theta))
        p.grad = as_tensor(direction)
        torch.optim.SGD([p], lr=lr).step()
        calls.append((theta, direction, lr))
        refs.append(p.detach().numpy())
    return Plan({"calls": calls}, {"refs": refs, "dtypes": [str(c[0].dtype) for c in calls]})


def judge_sgd_update(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs, dts = plan.expected["refs"], plan.expected["dtypes"]
    cases = cases_each(
        [f"d={len(r)}, {dt}" for r, dt in zip(refs, dts, strict=True)],
        answer_cases(answer, len(refs), "sgd_update"),
        refs,
        dts,
        "θ_new",
    )
    for c in cases:
        if not c.passed:
            c.hint = c.hint or "θ_new = θ - η·d: mind the sign, and scale by the learning rate"
    fail_overwrites(cases, plan.request["calls"], answer, ("θ", "d", "lr"))
    return cases


# -------------------------------------------------------------------- task 8: sgd_direction

SGD_CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "weight decay": {"weight_decay": 0.1},
    "maximize": {"maximize": True},
    "maximize + weight decay": {"maximize": True, "weight_decay": 0.1},
    "momentum": {"momentum": 0.9},
    "dampening": {"momentum": 0.9, "dampening": 0.4},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "momentum + weight decay": {"momentum": 0.9, "weight_decay": 0.1},
}
SGD_HINTS = {
    "plain": "with no options the direction is the gradient itself",
    "weight decay": "weight decay joins the gradient: g = ∇θ + λ·θ",
    "maximize": "maximize flips the gradient's sign before anything else",
    "maximize + weight decay": "flip the gradient first, then add λ·θ: g = -∇θ + λ·θ",
    "momentum": "v = μ·v + (1 - τ)·g, and the first buffer is the gradient itself",
    "dampening": "dampening scales the new gradient in the buffer: v = μ·v + (1 - τ)·g",
    "nesterov": "Nesterov steps along g + μ·v, not v",
    "momentum + weight decay": "add λ·θ to the gradient before it enters the momentum buffer",
}
STEPS = 4
ZERO_START = "the momentum buffer starts as the first gradient, not zero (torch: v₁ = g₁)"


def build_sgd_direction(rng: np.random.Generator) -> Plan:
    cases, refs = [], []
    for options in SGD_CASES.values():
        d, dt = int(rng.integers(1, 6)), str(rng.choice(DTYPES))
        thetas = [seeded(rng, (d,), dt) for _ in range(STEPS)]
        grads = [seeded(rng, (d,), dt) for _ in range(STEPS)]
        p = torch.nn.Parameter(as_tensor(thetas[0]))
        opt = torch.optim.SGD([p], lr=1.0, **options)
        steps = []
        for theta, grad in zip(thetas, grads, strict=True):
            with torch.no_grad():
                p.copy_(as_tensor(theta))
            p.grad = as_tensor(grad)
            opt.step()
            buf = opt.state[p].get("momentum_buffer")
            steps.append((theta - p.detach().numpy(), None if buf is None else buf.numpy().copy()))
        cases.append({"options": options, "thetas": thetas, "grads": grads})
        refs.append((steps, dt))
    return Plan({"cases": cases}, {"refs": refs})


def judge_sgd_direction(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs = plan.expected["refs"]
    got = answer_cases(answer, len(refs), "sgd_direction")
    out = []
    for (name, options), (steps, dt), mine in zip(SGD_CASES.items(), refs, got, strict=True):

        def check(steps: Any = steps, mine: Any = mine, dt: str = dt) -> float:
            worst = 0.0
            for k, ((direction, buf), m) in enumerate(zip(steps, mine, strict=False)):
                worst = max(
                    worst, expect_close(m["direction"], direction, f"direction (step {k})", dt)
                )
                if buf is not None:
                    worst = max(worst, expect_close(m["buffer"], buf, f"buffer (step {k})", dt))
            if len(mine) < len(steps):
                raise Fail("sgd_direction must return (direction, buffer)")
            return worst

        case = judged(name, check, mine)
        if not case.passed and not keeps_hint(case):
            case.hint = SGD_HINTS[name]
            first = mine[0] if isinstance(mine, list) and mine else {}
            if options.get("dampening") and first.get("buffer") is not None:
                g = np.asarray(plan.request["cases"][list(SGD_CASES).index(name)]["grads"][0])
                if np.allclose(
                    np.asarray(first["buffer"], dtype=np.float64), (1 - options["dampening"]) * g
                ):
                    case.hint = ZERO_START
        out.append(case)
    sent = [[*c["thetas"], *c["grads"]] for c in plan.request["cases"]]
    fail_overwrites(out, sent, answer, ("θ",) * STEPS + ("grad",) * STEPS)
    return out


# ------------------------------------------------------------------------------ task 12: Adam

ADAM_CASES: dict[str, dict[str, Any]] = {
    "adam": {"eps": 1e-3},  # an ε large enough that its place (outside the root) shows
    "weight decay (L2)": {"weight_decay": 0.1},
    "adamw": {"weight_decay": 0.1, "decoupled": True},
    "amsgrad": {"amsgrad": True},
    # A short memory (β2 = 0.5) and gradients that fade: v falls, so its running max differs.
    "amsgrad, fading gradients": {"amsgrad": True, "betas": (0.9, 0.5)},
    "small betas and a large eps": {"betas": (0.3, 0.6), "eps": 0.01},
    "maximize": {"maximize": True},
    "maximize + weight decay (L2)": {"maximize": True, "weight_decay": 0.1},
    "maximize + adamw": {"maximize": True, "weight_decay": 0.1, "decoupled": True},
}
ADAM_HINTS = {
    "adam": "m̂ = m/(1 - β1ᵗ), v̂ = v/(1 - β2ᵗ), and ε goes outside the root: √v̂ + ε",
    "weight decay (L2)": "Adam adds λ·θ to the gradient before the moments",
    "adamw": "AdamW shrinks θ by (1 - η·λ) first and leaves the gradient alone",
    "amsgrad": "amsgrad divides by the running max of v, kept in the state",
    "amsgrad, fading gradients": "keep max(v_max, v) across steps: v falls here, its max does not",
    "small betas and a large eps": "use the betas and eps you are given; ε outside the root",
    "maximize": "maximize flips the gradient's sign before anything else",
    "maximize + weight decay (L2)": "flip the gradient first, then add λ·θ",
    "maximize + adamw": "flip the gradient; AdamW's decay still shrinks θ toward zero",
}


def build_adam(rng: np.random.Generator) -> Plan:
    cases, refs = [], []
    for options in ADAM_CASES.values():
        d, dt = int(rng.integers(1, 6)), str(rng.choice(DTYPES))
        theta0, grads = seeded(rng, (d,), dt), [seeded(rng, (d,), dt) for _ in range(5)]
        if options.get("betas") == (0.9, 0.5):
            fade = (4, 2, 1, 0.5, 0.25)
            grads = [g * np.asarray(f, g.dtype) for g, f in zip(grads, fade, strict=True)]
        kwargs = {k: v for k, v in options.items() if k != "decoupled"}
        p = torch.nn.Parameter(as_tensor(theta0))
        cls = torch.optim.AdamW if options.get("decoupled") else torch.optim.Adam
        opt = cls([p], lr=0.05, **kwargs)
        thetas = []
        for g in grads:
            p.grad = as_tensor(g)
            opt.step()
            thetas.append(p.detach().numpy().copy())
        cases.append({"options": {"lr": 0.05, **options}, "theta0": theta0, "grads": grads})
        refs.append((thetas, dt))
    return Plan({"cases": cases}, {"refs": refs})


def judge_adam(answer: dict[str, Any], plan: Plan) -> list[Case]:
    refs = plan.expected["refs"]
    got = answer_cases(answer, len(refs), "adam_step")
    out = []
    for name, (thetas, dt), mine in zip(ADAM_CASES, refs, got, strict=True):

        def check(thetas: Any = thetas, mine: Any = mine, dt: str = dt) -> float:
            worst = 0.0
            for k, (want, m) in enumerate(zip(thetas, mine, strict=False)):
                worst = max(worst, expect_close(m, want, f"θ after step {k + 1}", dt))
            if len(mine) < len(thetas):
                raise Fail("adam_step must return (params, state)")
            return worst

        case = judged(name, check, mine)
        if not case.passed and not keeps_hint(case):
            case.hint = ADAM_HINTS[name]
        out.append(case)
    return out
