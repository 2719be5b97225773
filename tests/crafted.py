"""Crafted checkpoints: every way a .pth or .safetensors file can lie, written small.

`write_all(folder)` writes them and returns their paths. Run as a script,
`python tests/crafted.py FOLDER`, it loads each with `gradcompare predict` on both sides, in
this one process, and prints a JSON line per load: exit code, seconds, peak memory so far,
and what was printed on stderr.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import resource
import struct
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import safetensors.numpy
import torch

FORMAT = "gradcompare-checkpoint/1"


class Payload:
    """Unpickled, it would run a shell command: a checkpoint that must never load."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def _ours(**changes):
    """Our .pth layout with a valid model, then `changes` swapped in."""
    blob = {
        "model_state_dict": {"weights": torch.tensor([0.5]), "bias": torch.tensor([0.1])},
        "optimizer_state_dict": {
            "state": {0: {"momentum_buffer": torch.tensor([0.2])}, 1: {"momentum_buffer": torch.tensor([0.3])}},
            "param_groups": [{"lr": 0.01, "momentum": 0.9, "params": [0, 1]}],
        },
        "history": {"train_loss": torch.tensor([0.4, 0.3], dtype=torch.float64),
                    "test_loss": torch.tensor([0.5, 0.4], dtype=torch.float64),
                    "weight": torch.tensor([[0.4], [0.5]], dtype=torch.float64),
                    "bias": torch.tensor([0.1, 0.1], dtype=torch.float64)},
        "metadata": {"format": FORMAT, "implementation": "torch", "model": "parameter",
                     "dtype": "float32", "epoch": "2", "optimizer.state": "sgd"},
    }  # fmt: skip
    for key, value in changes.items():
        where, _, leaf = key.partition(".")
        if leaf:
            blob[where] = {**blob[where], leaf: value}
        else:
            blob[where] = value
    return blob


def _adam_pth(step):
    state = {"step": step, "exp_avg": torch.tensor([0.1]), "exp_avg_sq": torch.tensor([0.2])}
    return _ours(optimizer_state_dict={"state": {0: state, 1: dict(state)},
                                       "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1]}]})  # fmt: skip


def _st_valid(**changes):
    tensors = {
        "weight": np.array([0.5], np.float32), "bias": np.array([0.1], np.float32),
        "optimizer.momentum_buffer.weight": np.array([0.2], np.float32),
        "optimizer.momentum_buffer.bias": np.array([0.3], np.float32),
        "history.train_loss": np.array([0.4, 0.3]), "history.test_loss": np.array([0.5, 0.4]),
        "history.weight": np.array([[0.4], [0.5]]), "history.bias": np.array([0.1, 0.1]),
    }  # fmt: skip
    meta = {"format": FORMAT, "implementation": "manual", "dtype": "float32", "epoch": "2",
            "optimizer.state": "sgd", "optimizer.step": "2"}  # fmt: skip
    for key, value in changes.items():
        if key.startswith("meta:"):
            meta[key[5:]] = value
        elif value is None:
            tensors.pop(key, None)
        else:
            tensors[key] = value
    return safetensors.numpy.save(tensors, metadata=meta)


def _raw_header(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def write_all(folder: Path) -> dict[str, Path]:
    """Write every crafted file into `folder`; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def pth(name, obj, raw=False):
        path = folder / f"{name}.pth"
        if raw:
            path.write_bytes(pickle.dumps(obj))
        else:
            torch.save(obj, path)
        files[name] = path

    def st(name, data: bytes):
        path = folder / f"{name}.safetensors"
        path.write_bytes(data)
        files[name] = path

    # .pth: memory bombs that pass weights_only
    pth("pth_expanded_2e31", {"weights": torch.zeros(1).expand(2**31), "bias": torch.zeros(1)})
    pth("pth_expanded_2e29", {"weights": torch.zeros(1).expand(2**29), "bias": torch.zeros(1)})
    pth(
        "pth_expanded_history",
        _ours(**{"history.weight": torch.zeros(1, 1, dtype=torch.float64).expand(2**28, 1)}),
    )
    pth("pth_expanded_buffer", _ours(optimizer_state_dict={"state": {0: {"momentum_buffer": torch.zeros(1).expand(2**30)}},
                                                          "param_groups": [{"lr": 0.1, "params": [0, 1]}]}))  # fmt: skip
    # .pth: tensors of the wrong kind
    pth("pth_sparse_weight", {"weights": torch.zeros(3).to_sparse(), "bias": torch.zeros(1)})
    pth("pth_meta_weight", {"weights": torch.empty(1, device="meta"), "bias": torch.zeros(1)})
    pth("pth_bool_weight", {"weights": torch.tensor([True]), "bias": torch.zeros(1)})
    pth("pth_int_weight", {"weights": torch.tensor([1]), "bias": torch.tensor([0])})
    pth(
        "pth_half_weight",
        {
            "weights": torch.zeros(1, dtype=torch.float16),
            "bias": torch.zeros(1, dtype=torch.float16),
        },
    )
    pth(
        "pth_complex_weight",
        {"weights": torch.zeros(1, dtype=torch.complex64), "bias": torch.zeros(1)},
    )
    pth(
        "pth_mixed_dtypes", {"weights": torch.zeros(1), "bias": torch.zeros(1, dtype=torch.float64)}
    )
    pth("pth_empty_weight", {"weights": torch.zeros(0), "bias": torch.zeros(1)})
    pth("pth_bias_2", {"weights": torch.zeros(1), "bias": torch.zeros(2)})
    pth("pth_3d_weight", {"weights": torch.zeros(1, 1, 1), "bias": torch.zeros(1)})
    pth("pth_huge_d", {"weights": torch.zeros(2_000_000), "bias": torch.zeros(1)})
    pth("pth_nan_weight", {"weights": torch.tensor([float("nan")]), "bias": torch.zeros(1)})
    pth("pth_list_weight", {"weights": [0.5], "bias": torch.zeros(1)})
    pth("pth_dict_weight", {"weights": {"a": torch.zeros(1)}, "bias": torch.zeros(1)})
    # .pth: containers of the wrong kind
    pth("pth_tensor_not_dict", torch.zeros(3))
    pth("pth_empty_dict", {})
    pth("pth_wrong_keys", {"w": torch.zeros(1), "b": torch.zeros(1)})
    pth("pth_200k_keys", {f"k{i}": torch.zeros(1) for i in range(200_000)})
    pth("pth_metadata_list", _ours(metadata=["format", FORMAT]))
    pth("pth_metadata_string", _ours(metadata="gradcompare"))
    pth("pth_metadata_tensor_value", _ours(metadata={"format": FORMAT, "epoch": torch.zeros(1)}))
    pth("pth_history_list", _ours(history=[1, 2, 3]))
    pth("pth_history_string", _ours(history="loss"))
    pth("pth_history_short", _ours(**{"history.test_loss": torch.zeros(1, dtype=torch.float64)}))
    pth(
        "pth_history_nan",
        _ours(**{"history.train_loss": torch.tensor([float("nan"), 1.0], dtype=torch.float64)}),
    )
    pth(
        "pth_history_missing_part",
        _ours(history={"train_loss": torch.zeros(2, dtype=torch.float64)}),
    )
    pth("pth_optimizer_malformed", _ours(optimizer_state_dict={"state": "x"}))
    pth("pth_optimizer_no_groups", _ours(optimizer_state_dict={"state": {}, "param_groups": []}))
    pth("pth_nan_momentum", _ours(optimizer_state_dict={"state": {0: {"momentum_buffer": torch.tensor([float("nan")])}},
                                                       "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0, 1]}]}))  # fmt: skip
    pth("pth_2d_buffer", _ours(optimizer_state_dict={"state": {0: {"momentum_buffer": torch.zeros(2, 2)}},
                                                    "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0, 1]}]}))  # fmt: skip
    pth("pth_step_string", _adam_pth("abc"))
    pth("pth_step_inf", _adam_pth(torch.tensor(float("inf"))))
    pth("pth_step_negative", _adam_pth(torch.tensor(-5.0)))
    pth("pth_step_400_digits", _adam_pth(int("9" * 400)))
    pth("pth_negative_exp_avg_sq", _ours(optimizer_state_dict={
        "state": {i: {"step": torch.tensor(3.0), "exp_avg": torch.tensor([0.1]), "exp_avg_sq": torch.tensor([-0.2])} for i in (0, 1)},
        "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1]}]}))  # fmt: skip
    pth("pth_metadata_step_text", _ours(**{"metadata.optimizer.step": "1e400"}))
    pth("pth_metadata_epoch_negative", _ours(**{"metadata.epoch": "-1"}))
    pth("pth_metadata_bad_config", _ours(**{"metadata.config": "{not json"}))
    pth("pth_metadata_unknown_state", _ours(**{"metadata.optimizer.state": "lbfgs"}))
    pth("pth_metadata_other_format", _ours(**{"metadata.format": "someone-else/9"}))
    pth("pth_metadata_bad_model", _ours(**{"metadata.model": "resnet"}))
    # .pth: code, and bytes that are not a checkpoint
    pth("pth_system_payload", {"weights": Payload(), "bias": torch.zeros(1)})
    pth("pth_raw_pickle_payload", {"weights": Payload()}, raw=True)
    pth("pth_raw_pickle_plain", {"weights": [0.5], "bias": [0.1]}, raw=True)
    good = io.BytesIO()
    torch.save(_ours(), good)
    (folder / "pth_truncated.pth").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    files["pth_truncated"] = folder / "pth_truncated.pth"
    (folder / "pth_empty.pth").write_bytes(b"")
    files["pth_empty"] = folder / "pth_empty.pth"
    (folder / "pth_random.pth").write_bytes(np.random.default_rng(0).bytes(3000))
    files["pth_random"] = folder / "pth_random.pth"

    # .safetensors: sizes that lie
    sparse = folder / "st_sparse_4gib.safetensors"
    header = json.dumps({"weight": {"dtype": "F64", "shape": [2**29], "data_offsets": [0, 2**32]},
                         "bias": {"dtype": "F64", "shape": [1], "data_offsets": [2**32, 2**32 + 8]},
                         "__metadata__": {"format": FORMAT}}).encode()  # fmt: skip
    with sparse.open("wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + 2**32 + 8)  # sparse: 4 GiB declared, a few KB on disk
    files["st_sparse_4gib"] = sparse
    st("st_shape_beyond_file", _raw_header({"weight": {"dtype": "F32", "shape": [2**30], "data_offsets": [0, 2**32]},
                                            "bias": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8))  # fmt: skip
    st("st_header_length_huge", struct.pack("<Q", 2**60) + b"{}")
    st("st_header_not_json", struct.pack("<Q", 10) + b"not json!!")
    st("st_overlapping", _raw_header({"weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                      "bias": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                      "__metadata__": {"format": FORMAT}}, b"\0" * 4))  # fmt: skip
    st("st_200k_names", safetensors.numpy.save({f"t{i}": np.zeros(1, np.float32) for i in range(200_000)},
                                               metadata={"format": FORMAT}))  # fmt: skip
    st(
        "st_huge_d",
        _st_valid(
            weight=np.zeros(2_000_000, np.float32), **{"optimizer.momentum_buffer.weight": None}
        ),
    )
    # .safetensors: tensors of the wrong kind
    st("st_bf16_weight", _raw_header({"weight": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]},
                                      "bias": {"dtype": "BF16", "shape": [1], "data_offsets": [2, 4]},
                                      "__metadata__": {"format": FORMAT}}, b"\0" * 4))  # fmt: skip
    st("st_int_weight", _st_valid(weight=np.array([1], np.int64)))
    st("st_bool_weight", _st_valid(weight=np.array([True])))
    st("st_2d_weight", _st_valid(weight=np.zeros((1, 1), np.float32)))
    st(
        "st_empty_weight",
        _st_valid(weight=np.zeros(0, np.float32), **{"optimizer.momentum_buffer.weight": None}),
    )
    st("st_missing_bias", _st_valid(bias=None))
    st("st_unknown_tensor", _st_valid(extra=np.zeros(1, np.float32)))
    st("st_mixed_dtypes", _st_valid(bias=np.array([0.1])))
    st(
        "st_2d_buffer",
        _st_valid(**{"optimizer.momentum_buffer.weight": np.zeros((2, 2), np.float32)}),
    )
    st("st_history_short", _st_valid(**{"history.test_loss": np.zeros(1)}))
    st("st_history_2d", _st_valid(**{"history.train_loss": np.zeros((2, 2))}))
    # .safetensors: values that lie
    st("st_nan_weight", _st_valid(weight=np.array([np.nan], np.float32)))
    st("st_inf_bias", _st_valid(bias=np.array([np.inf], np.float32)))
    st(
        "st_nan_momentum",
        _st_valid(**{"optimizer.momentum_buffer.weight": np.array([np.nan], np.float32)}),
    )
    st("st_nan_history", _st_valid(**{"history.train_loss": np.array([np.nan, 1.0])}))
    st("st_negative_exp_avg_sq", _st_valid(**{
        "optimizer.momentum_buffer.weight": None, "optimizer.momentum_buffer.bias": None,
        "optimizer.exp_avg.weight": np.zeros(1, np.float32), "optimizer.exp_avg.bias": np.zeros(1, np.float32),
        "optimizer.exp_avg_sq.weight": np.array([-1.0], np.float32), "optimizer.exp_avg_sq.bias": np.zeros(1, np.float32),
        "meta:optimizer.state": "adam"}))  # fmt: skip
    st("st_adam_without_moments", _st_valid(**{"meta:optimizer.state": "adam"}))
    for name, step in (
        ("abc", "abc"),
        ("1e400", "1e400"),
        ("negative", "-5"),
        ("400_digits", "9" * 400),
    ):
        st(f"st_step_{name}", _st_valid(**{"meta:optimizer.step": step}))
    st("st_epoch_text", _st_valid(**{"meta:epoch": "many"}))
    st("st_bad_config", _st_valid(**{"meta:config": "[1, 2"}))
    st("st_unknown_state", _st_valid(**{"meta:optimizer.state": "lbfgs"}))
    st("st_other_format", _st_valid(**{"meta:format": "someone-else/1"}))
    st(
        "st_no_format",
        safetensors.numpy.save(
            {"weight": np.zeros(1, np.float32), "bias": np.zeros(1, np.float32)}
        ),
    )
    st("st_truncated", _st_valid()[:60])
    st("st_empty", b"")
    st("st_random", np.random.default_rng(1).bytes(5000))
    return files


def peak_mb() -> float:
    """This process's peak resident memory, MiB.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across execve, so a child of a
    large test runner would report the runner's peak. VmHWM belongs to this address space.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(folder: str) -> None:
    """Load every crafted file with `gradcompare predict`, both sides; a JSON line each."""
    from compare.cli import main as gradcompare

    for path in sorted(Path(folder).iterdir()):
        if path.suffix not in (".pth", ".safetensors"):
            continue
        for impl in ("manual", "torch"):
            err, out = io.StringIO(), io.StringIO()
            start = time.perf_counter()
            code: int | str | None
            with redirect_stderr(err), redirect_stdout(out):
                try:
                    code = gradcompare(
                        ["predict", "--load", str(path), "--impl", impl, "--x", "0.5"]
                    )
                except SystemExit as e:
                    code = e.code
                except BaseException as e:
                    code = f"crash: {type(e).__name__}: {e}"[:300]
            print(json.dumps({
                "file": path.stem, "impl": impl, "code": code,
                "seconds": time.perf_counter() - start,
                "peak_mb": peak_mb(),
                "stderr": err.getvalue(),
            }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
