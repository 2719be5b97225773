"""Tasks 10 and 16: the safetensors checkpoint and the course's state_dict, read back by others."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
import torch

from compare.exercises.checks.common import (
    DTYPES,
    Case,
    Fail,
    Plan,
    expect_close,
    judged,
    seeded,
)

# ------------------------------------------------------------------------ task 10: checkpoint


def build_checkpoint(rng: np.random.Generator, where: Path | None) -> Plan:
    d, dt = int(rng.integers(1, 6)), str(rng.choice(DTYPES))
    epochs = int(rng.integers(2, 6))
    folder = tempfile.TemporaryDirectory(prefix="gradcompare-ck-", dir=where)
    Path(folder.name).chmod(0o777)
    # Multiples of 1/8: exact in float32 and float64, so a history in either dtype round-trips.
    history = {
        "train_loss": rng.integers(1, 64, epochs) / 8,
        "test_loss": rng.integers(1, 64, epochs) / 8,
        "weight": rng.integers(-64, 64, (epochs, d)) / 8,
        "bias": rng.integers(-64, 64, epochs) / 8,
    }
    request = {
        "path": str(Path(folder.name) / "ck.safetensors"),
        "weight": seeded(rng, (d,), dt),
        "bias": seeded(rng, (1,), dt),
        "buffers": [seeded(rng, (d,), dt), seeded(rng, (1,), dt)],
        "step": int(rng.integers(1, 100)),
        "history": history,
        "metadata": {"loss": "l1"},
        # An Adam state too (amsgrad's max included), saved to a file of its own: a layout
        # that only ever wrote SGD's buffers passed before.
        "adam": {
            "path": str(Path(folder.name) / "adam.safetensors"),
            "exp_avg": [seeded(rng, (d,), dt), seeded(rng, (1,), dt)],
            "exp_avg_sq": [np.abs(seeded(rng, (d,), dt)), np.abs(seeded(rng, (1,), dt))],
            "max_exp_avg_sq": [np.abs(seeded(rng, (d,), dt)), np.abs(seeded(rng, (1,), dt))],
            "step": int(rng.integers(1, 100)),
        },
    }
    return Plan(request, {"request": request}, folder.cleanup, Path(folder.name))


ADAM_KEYS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def judge_checkpoint(answer: dict[str, Any], plan: Plan) -> list[Case]:
    req = plan.expected["request"]
    path = Path(req["path"])

    def saved() -> float:
        try:
            raw = safetensors.numpy.load_file(path)  # a third-party reader, not the student's
        except Exception as e:
            raise Fail(f"the saved file is not valid safetensors ({str(e)[:80]})") from None
        worst = 0.0
        for key, want in (
            ("weight", req["weight"]),
            ("bias", req["bias"]),
            ("optimizer.momentum_buffer.weight", req["buffers"][0]),
            ("optimizer.momentum_buffer.bias", req["buffers"][1]),
            *((f"history.{k}", v) for k, v in req["history"].items()),
        ):
            if key not in raw:
                raise Fail(
                    f"the file has no tensor {key!r}",
                    hint="name tensors as the layout in the module docstring says",
                )
            worst = max(worst, expect_close(raw[key], want, f"saved {key}", exact=True))
        return worst

    def loaded() -> float:
        worst = max(
            expect_close(answer["weight"], req["weight"], "loaded weight", exact=True),
            expect_close(answer["bias"], req["bias"], "loaded bias", exact=True),
        )
        for k, v in req["history"].items():
            worst = max(
                worst, expect_close(answer["history"][k], v, f"loaded history.{k}", exact=True)
            )
        for name, got, want in zip(("weight", "bias"), answer["buffers"], req["buffers"],
                                   strict=True):  # fmt: skip
            worst = max(worst, expect_close(got, want, f"loaded momentum buffer of {name}",
                                            exact=True))  # fmt: skip
        if answer.get("step") is None or int(np.asarray(answer["step"])) != req["step"]:
            raise Fail(
                f"the loaded state's step is {answer.get('step')}, the saved one {req['step']}",
                hint="save state.step as the optimizer.step metadata, and read it back",
            )
        return worst

    def adam() -> float:
        a = req["adam"]
        try:
            with safetensors.safe_open(a["path"], framework="numpy") as f:  # not the student's
                raw = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
                meta = f.metadata() or {}
        except Exception as e:
            raise Fail(f"the Adam checkpoint is not valid safetensors ({str(e)[:80]})") from None
        if meta.get("optimizer.state") != "adam" or meta.get("optimizer.step") != str(a["step"]):
            raise Fail(
                f"an Adam state saved as optimizer.state={meta.get('optimizer.state')!r}, "
                f"optimizer.step={meta.get('optimizer.step')!r}",
                hint="save an AdamState's exp_avg, exp_avg_sq and max_exp_avg_sq, and mark "
                "the file optimizer.state=adam",
            )
        worst = 0.0
        reported = answer.get("adam")
        got: dict[str, Any] = reported if isinstance(reported, dict) else {}
        for key in ADAM_KEYS:
            for i, name in enumerate(("weight", "bias")):
                tensor = f"optimizer.{key}.{name}"
                if tensor not in raw:
                    raise Fail(f"the Adam checkpoint has no tensor {tensor!r}")
                worst = max(
                    worst, expect_close(raw[tensor], a[key][i], f"saved {tensor}", exact=True)
                )
                mine = got.get(key)
                mine = mine[i] if isinstance(mine, list) and i < len(mine) else None
                worst = max(
                    worst, expect_close(mine, a[key][i], f"loaded {key} of {name}", exact=True)
                )
        if got.get("step") is None or int(np.asarray(got["step"])) != a["step"]:
            raise Fail(
                f"the loaded Adam state's step is {got.get('step')}, the saved one {a['step']}"
            )
        return worst

    def truncated() -> float:
        if answer.get("truncated") != "CheckpointError":
            raise Fail(
                f"a truncated file gave {answer.get('truncated')}, not CheckpointError",
                hint="let read_safetensors turn parse failures into CheckpointError",
            )
        return 0.0

    return [
        judged("saved layout", saved),
        judged("loads back", loaded),
        judged("an Adam state, saved and loaded", adam, answer.get("adam")),
        judged("a truncated file", truncated),
    ]


class _Payload:
    """Unpickled, it would create a file: the proof that a loader ran code from a file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def build_state_dict(rng: np.random.Generator, where: Path | None) -> Plan:
    folder = tempfile.TemporaryDirectory(prefix="gradcompare-sd-", dir=where)
    Path(folder.name).chmod(0o777)
    evil, marker = Path(folder.name) / "evil.pth", Path(folder.name) / "code-ran"
    torch.save({"weights": _Payload(str(marker)), "bias": torch.zeros(1)}, evil)
    request = {"w": seeded(rng, (1,), "float32"), "b": seeded(rng, (1,), "float32"),
               "path": str(Path(folder.name) / "model_0.pth"), "evil": str(evil),
               "marker": str(marker)}  # fmt: skip
    return Plan(request, {"request": request}, folder.cleanup, Path(folder.name))


def judge_state_dict(answer: dict[str, Any], plan: Plan) -> list[Case]:
    req = plan.expected["request"]

    def saved() -> float:
        try:
            state = torch.load(req["path"], weights_only=True)  # a reader the student did not write
        except Exception as e:
            raise Fail(
                f"the saved file does not load with torch.load ({str(e)[:80]})",
                hint="torch.save(model.state_dict(), path)",
            ) from None
        if not isinstance(state, dict) or set(state) != {"weights", "bias"}:
            keys = sorted(map(str, state))[:4] if isinstance(state, dict) else ""
            raise Fail(
                f"the file holds a {type(state).__name__} {keys}",
                hint="save model.state_dict(), not the model or the tensors alone",
            )
        return max(
            expect_close(state["weights"], req["w"], "saved weights", exact=True),
            expect_close(state["bias"], req["b"], "saved bias", exact=True),
        )

    def loaded() -> float:
        want = np.concatenate([req["w"], req["b"]])
        got = answer.get("loaded")
        # The model handed to load_state_dict starts at (-w, -b): still there means nothing
        # was loaded into it (a new model got the weights), not that a sign was flipped.
        if isinstance(got, np.ndarray) and got.shape == want.shape and np.array_equal(got, -want):
            raise Fail(
                "the model passed in kept its own parameters",
                hint="load into the model you were given: model.load_state_dict(...)",
            )
        return expect_close(got, want, "the loaded (weights, bias)", exact=True)

    def loaded_case() -> Case:
        case = judged("loaded back", loaded, answer.get("loaded"))
        if not case.passed and not case.hint:
            case.hint = "model.load_state_dict(torch.load(path, weights_only=True))"
        return case

    def refused() -> float:
        if Path(req["marker"]).exists() or answer.get("evil") == "loaded":  # seen here
            raise Fail(
                "a file holding code was loaded (and its code ran)",
                hint="torch.load(path, weights_only=True): never unpickle objects",
            )
        return 0.0

    return [judged("saved", saved), loaded_case(), judged("a hostile file is refused", refused)]
