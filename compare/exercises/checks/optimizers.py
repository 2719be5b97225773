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
        lr = drawn(rng, "lr")
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

# Which options each case turns on; their values are drawn over their ranges (RANGES) each run.
SGD_CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "weight decay": {"weight_decay": ...},
    "maximize": {"maximize": True},
    "maximize + weight decay": {"maximize": True, "weight_decay": ...},
    "momentum": {"momentum": ...},
    "dampening": {"momentum": ..., "dampening": ...},
    "nesterov": {"momentum": ..., "nesterov": True},
    "momentum + weight decay": {"momentum": ..., "weight_decay": ...},
}
# An option's range: (low, high, drawn log-uniformly). The options torch documents as ≥ 0 are
# drawn away from 0 (0 is their off), and below where a few steps would overflow.
RANGES: dict[str, tuple[float, float, bool]] = {
    "lr": (1e-3, 1.0, True),
    "momentum": (0.3, 0.99, False),
    "dampening": (0.05, 0.95, False),
    "weight_decay": (1e-3, 0.5, True),
    "adam lr": (5e-3, 0.2, True),
    "loop lr": (0.01, 0.2, True),
    "eps": (1e-10, 1e-6, True),
    "large eps": (1e-3, 3e-2, True),
    "rms lr": (1e-3, 5e-2, True),
    "alpha": (0.9, 0.999, False),
    "short alpha": (0.1, 0.6, False),  # RMSprop with a short memory: the newest g² dominates
}


def drawn(rng: np.random.Generator, name: str) -> float:
    low, high, log = RANGES[name]
    if log:
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))
    return float(rng.uniform(low, high))


def drawn_options(rng: np.random.Generator, case: dict[str, Any]) -> dict[str, Any]:
    """The case's options, each one marked ... drawn over its range."""
    return {k: drawn(rng, k) if v is ... else v for k, v in case.items()}


SGD_HINTS = {
    "plain": "with no options the direction is the gradient itself",
    "weight decay": "weight decay joins the gradient: g = ∇θ + λ·θ",
    "maximize": "maximize flips the gradient's sign before anything else",
    "maximize + weight decay": "flip the gradient first, then add λ·θ: g = -∇θ + λ·θ",
    "momentum": "v = μ·v + (1 - τ)·g, and the first buffer is the gradient itself",
    "dampening": "dampening scales the new gradient in the buffer: v = μ·v + (1 - τ)·g",
    "nesterov": "Nesterov: the direction is g + μ·v, with v the updated buffer",
    "momentum + weight decay": "add λ·θ to the gradient before it enters the momentum buffer",
}
STEPS = 4
ZERO_START = "the momentum buffer starts as the first gradient, not zero (torch: v₁ = g₁)"


def build_sgd_direction(rng: np.random.Generator) -> Plan:
    cases, refs = [], []
    for case in SGD_CASES.values():
        options = drawn_options(rng, case)
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
    drawn_cases = [c["options"] for c in plan.request["cases"]]
    for name, options, (steps, dt), mine in zip(SGD_CASES, drawn_cases, refs, got, strict=True):

        def check(steps: Any = steps, mine: Any = mine, dt: str = dt) -> float:
            worst = 0.0
            for k, ((direction, buf), m) in enumerate(zip(steps, mine, strict=False)):
                worst = max(
                    worst,
                    expect_close(
                        m["direction"], direction, f"direction (step {k})", dt, keep_dtype=True
                    ),
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

# As SGD_CASES; "betas" gives each β's range, and ε is drawn in every case (tiny by default).
ADAM_CASES: dict[str, dict[str, Any]] = {
    "adam": {"eps": "large eps"},  # an ε large enough that its place (outside the root) shows
    "weight decay (L2)": {"weight_decay": ...},
    "adamw": {"weight_decay": ..., "decoupled": True},
    "amsgrad": {"amsgrad": True},
    # A short memory (small β2) and gradients that fade: v falls, so its running max differs.
    "amsgrad, fading gradients": {"amsgrad": True, "betas": ((0.5, 0.95), (0.3, 0.7))},
    "small betas and a large eps": {"betas": ((0.1, 0.5), (0.4, 0.8)), "eps": "large eps"},
    "maximize": {"maximize": True},
    "maximize + weight decay (L2)": {"maximize": True, "weight_decay": ...},
    "maximize + adamw": {"maximize": True, "weight_decay": ..., "decoupled": True},
}
ADAM_BETAS = ((0.8, 0.95), (0.99, 0.9999))  # where a case does not say
ADAM_KEYS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def drawn_adam(rng: np.random.Generator, case: dict[str, Any]) -> dict[str, Any]:
    """A case's Adam options, every number drawn: lr, both betas, ε and λ where it is on."""
    betas = case.get("betas", ADAM_BETAS)
    eps = drawn(rng, case.get("eps", "eps"))
    rest = drawn_options(rng, {k: v for k, v in case.items() if k not in ("betas", "eps")})
    return {"lr": drawn(rng, "adam lr"), **rest, "eps": eps,
            "betas": tuple(float(rng.uniform(lo, hi)) for lo, hi in betas)}  # fmt: skip


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
    for name, case in ADAM_CASES.items():
        options = drawn_adam(rng, case)
        d, dt = int(rng.integers(1, 6)), str(rng.choice(DTYPES))
        theta0, grads = seeded(rng, (d,), dt), [seeded(rng, (d,), dt) for _ in range(5)]
        if name == "amsgrad, fading gradients":
            fade = (4, 2, 1, 0.5, 0.25)
            grads = [g * np.asarray(f, g.dtype) for g, f in zip(grads, fade, strict=True)]
        kwargs = {k: v for k, v in options.items() if k != "decoupled"}
        cls = torch.optim.AdamW if options.get("decoupled") else torch.optim.Adam
        thetas, states = torch_steps(cls, kwargs, theta0, grads, ADAM_KEYS)
        cases.append({"options": options, "theta0": theta0, "grads": grads})
        refs.append((thetas, states, dt))
    return Plan({"cases": cases}, {"refs": refs})


def judge_adam(answer: dict[str, Any], plan: Plan) -> list[Case]:
    return judge_stepped(answer, plan, "adam_step", ADAM_CASES, ADAM_HINTS, ADAM_KEYS)


def torch_steps(
    cls: type, options: dict[str, Any], theta0: np.ndarray, grads: list[np.ndarray],
    keys: tuple[str, ...],
) -> tuple[list[np.ndarray], list[dict[str, Any]]]:  # fmt: skip
    """θ after each step of torch's optimizer, and optimizer.state[p]'s `keys` and step then
    (None for an entry torch keeps none of with these options)."""
    p = torch.nn.Parameter(as_tensor(theta0.copy()))
    opt = cls([p], **options)
    thetas, states = [], []
    for g in grads:
        p.grad = as_tensor(g)
        opt.step()
        thetas.append(p.detach().numpy().copy())
        kept = opt.state[p]
        states.append({k: kept[k].numpy().copy() if k in kept else None for k in keys}
                      | {"step": int(kept["step"].item())})  # fmt: skip
    return thetas, states


def judge_stepped(
    answer: dict[str, Any],
    plan: Plan,
    what: str,
    names: dict[str, Any],
    hints: dict[str, str],
    keys: tuple[str, ...],
) -> list[Case]:
    """A stepped optimizer's cases (Adam's, RMSprop's): θ after each step, then its state
    against torch's optimizer.state[p]; a case's hint unless a more precise one came up."""
    refs = plan.expected["refs"]
    got = answer_cases(answer, len(refs), what)
    out = []
    for name, (thetas, states, dt), mine in zip(names, refs, got, strict=True):

        def check(thetas: Any = thetas, states: Any = states, mine: Any = mine,
                  dt: str = dt) -> float:  # fmt: skip
            steps = mine.get("thetas", []) if isinstance(mine, dict) else []
            worst = 0.0
            for k, (want, m) in enumerate(zip(thetas, steps, strict=False)):
                what_k = f"θ after step {k + 1}"
                worst = max(worst, expect_close(m, want, what_k, dt, keep_dtype=True))
            if len(steps) < len(thetas):
                raise Fail(f"{what} must return (params, state)")
            for k, (want, m) in enumerate(zip(states, mine.get("states", []), strict=True)):
                worst = max(worst, state_close(m, want, k + 1, dt, keys))
            return worst

        case = judged(name, check, mine)
        about_state = case.message.startswith(("state.", "the state")) and case.hint
        if not case.passed and not keeps_hint(case) and not about_state:
            case.hint = hints[name]
        out.append(case)
    fail_overwrites(out, [[c["theta0"], *c["grads"]] for c in plan.request["cases"]], answer,
                    ("params[0]",) + ("a gradient",) * 8)  # fmt: skip
    return out


def state_close(mine: Any, want: dict[str, Any], k: int, dt: str, keys: tuple[str, ...]) -> float:
    """The state a step returned after step k against torch's optimizer.state[p]."""
    if not isinstance(mine, dict):
        raise Fail(f"the state after step {k} could not be read")
    worst = 0.0
    for key in keys:
        if isinstance(mine.get(key), str):  # "missing": no such field
            named = ", ".join(keys)
            raise Fail(f"the state has no field {key}",
                       hint=f"name the state's fields as torch does: {named}, step")  # fmt: skip
        if want[key] is None:
            continue  # torch keeps none with these options (Adam's max without amsgrad, …)
        if mine.get(key) is None:
            raise Fail(f"state.{key} after step {k} holds no array",
                       hint="return the new state with an array per parameter in each field "
                       "the options use")  # fmt: skip
        what = f"state.{key} after step {k}"
        worst = max(worst, expect_close(mine.get(key), want[key], what, dt))
    if mine.get("step") != want["step"]:
        raise Fail(f"state.step after step {k} is {mine.get('step')!r}, torch's is {want['step']}",
                   hint="count the steps taken: t = t + 1 on each call")  # fmt: skip
    return worst
