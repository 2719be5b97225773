"""Data as tensors: the same arrays the manual side gets, on a device, batched by DataLoader."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset


def to_tensor(array: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """Copy a NumPy array onto `device`, keeping its dtype and every bit of its values."""
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


class EpochOrderSampler(Sampler[int]):
    """Yields orders[k] on the k-th pass: shuffling decided up front, so others can replay it."""

    def __init__(self, orders: Sequence[np.ndarray]) -> None:
        self.orders = orders
        self.epoch = 0  # which order the next pass uses

    def __iter__(self) -> Iterator[int]:
        order = self.orders[self.epoch]
        self.epoch += 1
        return iter(order.tolist())

    def __len__(self) -> int:
        return len(self.orders[self.epoch]) if self.epoch < len(self.orders) else 0


def make_loader(
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    orders: Sequence[np.ndarray] | None = None,
) -> DataLoader[tuple[torch.Tensor, ...]]:
    """A DataLoader over (X, y), in order or in orders[epoch]; it keeps the last short batch."""
    sampler = None if orders is None else EpochOrderSampler(orders)
    return DataLoader(
        TensorDataset(X, y), batch_size=batch_size, sampler=sampler, shuffle=False, drop_last=False
    )
