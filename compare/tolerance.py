"""How close is "the same"? It depends on the dtype's rounding, not on taste."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """|manual - torch| <= atol + rtol·|torch| counts as agreement."""

    atol: float  # absolute slack, for values near zero
    rtol: float  # relative slack, for large values

    def bound(self, reference: np.ndarray) -> np.ndarray:
        """The largest difference allowed next to `reference`."""
        return self.atol + self.rtol * np.abs(reference)


# float64: the two sides differ only in summation order and fused multiply-adds, ~1e-16 a step;
# 1e-12 leaves room for hundreds of epochs. float32 rounds at ~6e-8, so ~100 ulps of slack.
TOLERANCES: dict[str, Tolerance] = {
    "float64": Tolerance(atol=1e-12, rtol=1e-12),
    "float32": Tolerance(atol=1e-5, rtol=1e-5),
}
