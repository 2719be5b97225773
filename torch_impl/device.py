"""Where the tensors live: CPU or a CUDA GPU."""

from __future__ import annotations

import torch

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}


class DeviceError(RuntimeError):
    """The requested device is not available on this machine."""


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present, else CPU; 'cuda' without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            "CUDA was asked for, but no GPU is visible to PyTorch; use --device cpu (or auto, "
            "which picks a GPU when there is one)"
        )
    return torch.device(name)
