"""What a loop's model did after training: its test passes, its predictions, its save and load.

Judged in the parent from the recording, and, for a saved state_dict, from the file itself:
the parent reads it back from the scratch folder (torch.load with weights_only=True: it is a
learner's file) before the folder goes, and compares its tensors with the trained ones.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compare.notebooks.verdict import LoopVerdict


def matches(named: dict[str, list[float]], tensors: dict[str, Any]) -> bool:
    """Every trained tensor is in `tensors` (by its name's end) with the same values."""
    if not named:
        return False
    for name, values in named.items():
        hit = [k for k in tensors if k == name or k.endswith("." + name) or name.endswith("." + k)]
        if len(hit) != 1:
            return False
        got = np.asarray(tensors[hit[0]], dtype=np.float64).reshape(-1)
        if got.shape != (len(values),) or not np.allclose(got, values, rtol=0, atol=1e-7):
            return False
    return True


def read_back(path: str, scratch: Path) -> dict[str, Any] | None:
    """The saved file's tensors as the parent reads them, or None (not ours, unreadable)."""
    p = Path(path)
    if scratch.resolve() not in p.resolve().parents or not p.is_file():
        return None
    with contextlib.suppress(Exception):  # a learner's file: whatever is in it, no crash
        obj = torch.load(p, weights_only=True, map_location="cpu")
        if isinstance(obj, dict):
            return {
                str(k): v.detach().double().reshape(-1).numpy()
                for k, v in obj.items()
                if isinstance(v, torch.Tensor)
            }
    return None


def gather(v: LoopVerdict, loop: dict[str, Any], rec: dict[str, Any], scratch: Path) -> None:
    """Fill v.evidence: test passes, predictions, the saved file, the loaded instance."""
    forwards, arrays = rec["forwards"], rec["arrays"]
    steps = loop["steps"]
    first, last = loop["first_clock"], (steps[-1]["clock"] if steps else loop["first_clock"])
    test_arrays, test_lines = set(), set()
    passes = 0
    for loss in rec["losses"]:
        fwd = forwards[loss["forward"]]
        if fwd["module"] == v.owner and not fwd["backward"] and first <= fwd["clock"] <= last:
            passes += 1
            test_arrays.add(fwd["input"])
            test_lines.add((fwd["cell"], fwd["line"]))
    predictions = []
    for fwd in forwards:
        if fwd["module"] != v.owner or fwd["clock"] <= last or fwd["backward"]:
            continue
        if (fwd["cell"], fwd["line"]) in test_lines:  # the loop's own last test pass
            continue
        x = fwd["input"]
        on_test = "test" in str(fwd["input_name"] or "").lower() or any(
            x is not None
            and t is not None
            and arrays[x].shape == arrays[t].shape
            and np.array_equal(arrays[x], arrays[t])
            for t in test_arrays
        )
        no_grad = not fwd["grad"] or bool(fwd["inference"])
        predictions.append({"cell": fwd["cell"], "line": fwd["line"], "on_test": on_test,
                            "no_grad": no_grad, "training": fwd["training"]})  # fmt: skip
    saved = []
    for s in rec.get("saves", []):
        if s["clock"] <= last:
            continue
        file = read_back(s["path"], scratch)
        saved.append({"cell": s["cell"], "line": s["line"], "state_dict": s["state_dict"],
                      "read": file is not None,
                      "matches": file is not None and matches(v.final_named, file)})  # fmt: skip
    loaded = []
    for d in rec.get("loaded", []):
        if d["clock"] > last:
            tensors = dict(zip(_names(rec, d["module"]), d["params"], strict=False))
            same = matches(v.final_named, tensors)
            loaded.append({"cell": d["cell"], "line": d["line"], "matches": same,
                           "other_instance": d["module"] != v.owner})  # fmt: skip
    v.evidence = {
        "test_passes": passes,
        "predictions": predictions[:20],
        "saved": saved[:10],
        "loaded": loaded[:10],
        "weights_only_off": any(d.get("weights_only") is False for d in rec.get("loads", [])),
    }


def _names(rec: dict[str, Any], module: int) -> list[str]:
    info = rec["modules"].get(str(module), {})
    return list(info.get("param_names", []))
