"""Checks for a checkpoint file from elsewhere, made before anything is read or computed from it.

Neither format can run code here (.pth is read weights-only, .safetensors is raw bytes and a
JSON header), but a file can still lie: declare a 4 GiB tensor in a 4 KB sparse file, hold a
stride-0 view of 2³¹ elements, a sparse or meta tensor, 200,000 names, a step of "1e400", NaN
momentum or a negative second moment. Each is refused here in one line, from the file size and
the header (or the tensors' metadata) first, then the values. The sides' own loaders trust
what they are given; every command that reads a file goes through this module first.
"""

from __future__ import annotations

import json
import math
import os
import pickletools
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import safetensors
import torch

from compare.config import OPTIMIZER_NAMES
from manual.checkpoint import FORMAT, HISTORY_KEYS, PARAM_NAMES, SCALAR_KEYS, CheckpointError
from manual.optim import STATE_KEYS

LAYOUT_KEYS = frozenset(
    {
        *PARAM_NAMES,
        *(f"optimizer.{k}.{p}" for keys in STATE_KEYS.values() for k in keys for p in PARAM_NAMES),
        *(f"history.{k}" for k in HISTORY_KEYS),
    }
)
SUFFIXES = (".safetensors", ".pth", ".pt")
SAFETENSORS_DTYPES = {"F32": "float32", "F64": "float64"}
MAX_FILE_BYTES = 256 << 20  # far above any real run's file, far below harm
MAX_FEATURES = 1_000_000  # d
MAX_VALUES = MAX_FILE_BYTES // 8  # all tensors together
MAX_STEP = 10**12  # optimizer steps or epochs: more than any run here could take
METADATA_CHOICES = {
    "implementation": ("manual", "torch"),
    "model": ("parameter", "linear"),
    "loss": ("l1", "mse", "huber"),
    "dtype": ("float32", "float64"),
    "optimizer": OPTIMIZER_NAMES,  # torch.optim's, in lower case
    "optimizer.state": tuple(STATE_KEYS),
}
# Metadata fields that hold JSON, and what each must be.
JSON_FIELDS = {"overrides": list, "optimizer.param_groups": list, "scheduler": dict,
               "config": dict, "versions": dict}  # fmt: skip
MAX_METADATA = 64  # fields; ours writes about 12
# Optimizer state that is a running sum or mean of squares, a max of magnitudes, or a step
# size: never negative in a file an optimizer wrote.
NONNEGATIVE = ("exp_avg_sq", "sum", "square_avg", "acc_delta", "exp_inf", "step_size")
# Entries a family may lack: SGD's buffer before momentum runs, Adam's max without amsgrad,
# RMSprop's buffer without momentum and its mean gradient uncentered. The rest come together.
OPTIONAL_KEYS = {"sgd": {"momentum_buffer"}, "adam": {"max_exp_avg_sq"},
                 "rmsprop": {"momentum_buffer", "grad_avg"}}  # fmt: skip


def check_file(path: Path) -> None:
    """A regular file, of a format we read and a plausible size (a sparse 4 GiB file is not)."""
    if path.suffix not in SUFFIXES:
        raise CheckpointError(
            f"{path}: unknown checkpoint format {path.suffix or '(no suffix)'}; gradcompare reads "
            ".safetensors and .pth files"
        )
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file (a folder?); give a checkpoint file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CheckpointError(
            f"{path}: {size:,} bytes is more than any checkpoint here ({MAX_FILE_BYTES:,}); refused"
        )


MAX_PTH_TENSORS = 64  # storages in a .pth archive; ours hold at most 14
CODE_OPCODES = frozenset({"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX"})


def check_pth_container(path: Path) -> None:
    """Before torch.load: a zip archive of a bounded number of tensors, or a refused pickle.

    torch.load reads every storage a file lists: 200,000 one-value tensors take seconds and
    gigabytes before any check could run. A raw (pre-zip) pickle is read with pickletools,
    which only lists opcodes: one that imports or calls anything means the file would run
    code if unpickled.
    """
    if zipfile.is_zipfile(path):
        count = zip_entries(path)  # from the archive's last record: no entry is read
        if count > MAX_PTH_TENSORS + 8:  # a few entries besides the storages
            shown = f"{count:,}" if count < 0xFFFF else "more than 65,535"
            raise CheckpointError(
                f"{path}: holds {shown} entries; a checkpoint holds at most "
                f"{MAX_PTH_TENSORS} tensors; refused"
            )
        try:
            with zipfile.ZipFile(path) as archive:
                entries = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise CheckpointError(f"{path}: not a readable .pth file ({e})") from None
        if sum(e.file_size for e in entries) > MAX_FILE_BYTES:
            raise CheckpointError(f"{path}: unpacks to more than {MAX_FILE_BYTES:,} bytes; refused")
        return
    opcodes: set[str] = set()
    try:
        with path.open("rb") as f:
            for op, _, _ in pickletools.genops(f):
                opcodes.add(op.name)
    except Exception:
        return  # not a pickle at all: torch.load says so in its own words
    if opcodes & CODE_OPCODES:
        raise CheckpointError(
            f"{path}: refused: this file tries to import or call Python code when unpickled; "
            "only weights-only checkpoints are accepted"
        )
    raise CheckpointError(
        f"{path}: a plain pickle, not a torch checkpoint; save it with torch.save(state_dict, path)"
    )


def zip_entries(path: Path) -> int:
    """The entry count a zip archive's end-of-central-directory record declares."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - (1 << 16) - 22))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 12 > len(tail):
        return 0
    return int.from_bytes(tail[at + 10 : at + 12], "little")  # 0xFFFF: zip64, very many


def names_line(names: Iterable[object], most: int = 5) -> str:
    """A few names and a count, so 200,000 bad names still make a one-line error."""
    shown = sorted(str(n) for n in names)
    head = ", ".join(repr(n[:40]) for n in shown[:most])
    return head + (f" and {len(shown) - most:,} more" if len(shown) > most else "")


def check_safetensors_header(path: Path) -> None:
    """Names, dtypes and shapes from the header alone, before a single tensor is read."""
    check_file(path)
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            names = list(f.keys())
            if len(names) > len(LAYOUT_KEYS):
                raise CheckpointError(
                    f"{path}: unexpected tensors {names_line(set(names) - LAYOUT_KEYS)}"
                )
            header = {}
            for name in names:
                piece = f.get_slice(name)
                dtype = piece.get_dtype()
                header[name] = (SAFETENSORS_DTYPES.get(dtype, dtype), tuple(piece.get_shape()))
            metadata = f.metadata() or {}
    except CheckpointError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a bad header is an error, or a panic from the Rust reader
        reason = (str(e).splitlines() or [type(e).__name__])[0][:120]
        raise CheckpointError(f"{path}: not a readable .safetensors file ({reason})") from None
    check_layout(path, header)
    check_complete(path, header.keys(), check_metadata(path, metadata))
    if metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a gradcompare checkpoint (format {str(metadata.get('format'))[:40]!r})"
        )


def check_layout(path: Path, header: dict[str, tuple[str, tuple[int, ...]]]) -> None:
    """Every tensor is a known name with a float dtype and the shape the layout gives it."""
    unexpected = header.keys() - LAYOUT_KEYS
    if unexpected:
        raise CheckpointError(f"{path}: unexpected tensors {names_line(unexpected)}")
    missing = {"weight", "bias"} - header.keys()
    if missing:
        raise CheckpointError(f"{path}: missing tensors {names_line(missing)}")
    w_dtype, w_shape = header["weight"]
    if len(w_shape) != 1 or not 1 <= w_shape[0] <= MAX_FEATURES:
        raise CheckpointError(
            f"{path}: weight must be (d,) with 1 <= d <= {MAX_FEATURES:,}, got {w_shape}"
        )
    epochs = header.get("history.train_loss", ("float64", (0,)))[1]
    if len(epochs) != 1:
        raise CheckpointError(f"{path}: history.train_loss must be (epochs,), got {epochs}")
    total = 0
    for name, (dtype, shape) in sorted(header.items()):
        want = expected_shape(name, w_shape[0], epochs[0])
        if tuple(shape) != want:
            raise CheckpointError(f"{path}: {name} has shape {tuple(shape)}, expected {want}")
        ok = ("float32", "float64") if name.startswith("history.") else (w_dtype,)
        if entry_of(name) in SCALAR_KEYS:
            ok = ("float32",)  # torch keeps these float32 whatever the parameters' dtype
        if dtype not in ok or w_dtype not in ("float32", "float64"):
            raise CheckpointError(
                f"{path}: {name} has dtype {dtype}; parameters and buffers must all be float32 "
                "or all float64"
            )
        total += math.prod(shape)
    if total > MAX_VALUES:
        raise CheckpointError(f"{path}: {total:,} values is more than {MAX_VALUES:,}; refused")


def check_complete(path: Path, names: Iterable[str], metadata: dict[str, str]) -> None:
    """A history has all four series or none; Adam state has both moments for both parameters."""
    names = set(names)
    history = {f"history.{k}" for k in HISTORY_KEYS}
    if names & history and history - names:
        raise CheckpointError(f"{path}: the history is incomplete ({names_line(history - names)})")
    family = metadata.get("optimizer.state", "sgd")
    if metadata.get("optimizer.state") == "adam":
        moments = {f"optimizer.{k}.{p}" for k in ("exp_avg", "exp_avg_sq") for p in PARAM_NAMES}
        if moments - names:
            raise CheckpointError(f"{path}: the Adam state lacks its moment estimates")
    required = set(STATE_KEYS.get(family, ())) - OPTIONAL_KEYS.get(family, set())
    wanted = {f"optimizer.{k}.{p}" for k in required for p in PARAM_NAMES}
    if names & wanted and wanted - names:
        raise CheckpointError(
            f"{path}: the {family} state is incomplete ({names_line(wanted - names)})"
        )


def entry_of(name: str) -> str | None:
    """The optimizer state entry a layout name holds (optimizer.<entry>.<param>), or None."""
    parts = name.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "optimizer" else None


def expected_shape(name: str, d: int, epochs: int) -> tuple[int, ...]:
    """The shape the layout gives `name` for d features and `epochs` history rows."""
    if name == "history.weight":
        return (epochs, d)
    if name.startswith("history."):
        return (epochs,)
    if entry_of(name) in SCALAR_KEYS:
        return ()
    return (d,) if name == "weight" or name.endswith(".weight") else (1,)


def check_torch_tensors(
    path: Path, tensors: dict[str, object], metadata: dict[str, object]
) -> None:
    """A loaded .pth/.safetensors: dtype, layout, device, shape and size, then values."""
    check_complete(path, tensors.keys(), check_metadata(path, metadata))
    unexpected = tensors.keys() - LAYOUT_KEYS
    if unexpected:
        raise CheckpointError(f"{path}: unexpected tensors {names_line(unexpected)}")
    header: dict[str, tuple[str, tuple[int, ...]]] = {}
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"{path}: {name} is a {type(t).__name__}, not a tensor")
        if t.layout != torch.strided:
            raise CheckpointError(
                f"{path}: {name} is a {t.layout} tensor; only dense ones are read"
            )
        if t.device.type == "meta" or t.is_quantized:
            raise CheckpointError(f"{path}: {name} holds no values (a {t.device.type} tensor)")
        shape = tuple(t.shape)
        if name == "weight" and len(shape) == 2 and shape[0] == 1:
            shape = shape[1:]  # nn.Linear keeps (1, d)
        header[name] = (str(t.dtype).removeprefix("torch."), shape)
    check_layout(path, header)
    check_values(path, {k: t for k, t in tensors.items() if isinstance(t, torch.Tensor)})


def check_values(path: Path, arrays: dict[str, object]) -> None:
    """Finite parameters, buffers and history, and second moments that are not negative."""
    for name, a in sorted(arrays.items()):
        values = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        if not np.all(np.isfinite(values)):
            what = "a parameter" if name in PARAM_NAMES else name
            raise CheckpointError(f"{path}: {what} is NaN or infinite; the file is damaged")
        if "exp_avg_sq" in name and np.any(values < 0):
            raise CheckpointError(
                f"{path}: {name} is negative, but it is a running mean of g²; the file is damaged"
            )
        if entry_of(name) in NONNEGATIVE and np.any(values < 0):
            raise CheckpointError(
                f"{path}: {name} is negative, which no optimizer writes; the file is damaged"
            )


def check_metadata(path: Path, metadata: object) -> dict[str, str]:
    """Every metadata field, parsed in one place: one line naming the first field that is wrong."""
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: metadata is a {type(metadata).__name__}, not a dict")
    if len(metadata) > MAX_METADATA:
        raise CheckpointError(f"{path}: {len(metadata):,} metadata fields; expected at most 64")
    out: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise CheckpointError(
                f"{path}: metadata {str(key)[:40]!r} is a {type(value).__name__}; expected text"
            )
        out[key] = value
    if "format" in out and out["format"] != FORMAT:
        raise CheckpointError(
            f"{path}: not a gradcompare checkpoint (format {out['format'][:40]!r})"
        )
    for key, allowed in METADATA_CHOICES.items():
        if key in out and out[key] not in allowed:
            raise CheckpointError(
                f"{path}: metadata {key} is {out[key][:40]!r}; expected one of {', '.join(allowed)}"
            )
    for key in ("epoch", "optimizer.step"):
        if key in out:
            parse_count(path, key, out[key])
    for key, kind in JSON_FIELDS.items():
        if key in out:
            try:
                ok = isinstance(json.loads(out[key]), kind)
            except ValueError:
                ok = False
            if not ok:
                what = "list" if kind is list else "object"
                raise CheckpointError(f"{path}: metadata {key} is not a JSON {what}")
    return out


def parse_count(path: Path, key: str, text: str) -> int:
    """A step or epoch count: a whole number in [0, MAX_STEP]."""
    if not (text.isascii() and text.isdigit() and len(text) <= 13 and int(text) <= MAX_STEP):
        raise CheckpointError(
            f"{path}: {key} is {text[:20]!r}; expected a whole number from 0 to {MAX_STEP:,}"
        )
    return int(text)
