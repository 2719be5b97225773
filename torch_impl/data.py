"""Data as tensors: the same arrays the manual side gets, moved to a device."""

from __future__ import annotations

import numpy as np
import torch


def to_tensor(array: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """Copy a NumPy array onto `device`, keeping its dtype and every bit of its values."""
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)
