"""The same hand-derived gradients, written for speed. Still NumPy, still the same math.

Two lessons for the benchmark:
- A chunked pass streams X and y through memory once per step: every intermediate lives in a
  small preallocated buffer that stays in cache, and chunks are split across threads (NumPy
  releases the GIL inside its kernels).
- For MSE the derivation changes the algorithm. With A = [X 1] and θ = [w; b],
      dL/dθ = (2/N)·(AᵀA·θ - Aᵀy)
  so XᵀX, Σx, Xᵀy, Σy and Σy² are computed once and every step costs O(d²), whatever N is.
  Autograd differentiates the program it is given; it cannot make that trade.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from manual.losses import HUBER_DELTA

CHUNK_ROWS = 1 << 18  # 1 MiB float32 buffers: NumPy call overhead stays small, data stays in cache


class ChunkedGradients:
    """(L, dL/dw, dL/db) for L1, Huber or MSE in one streaming pass over X and y."""

    def __init__(self, X: np.ndarray, y: np.ndarray, loss: str, threads: int | None = None) -> None:
        if loss not in ("l1", "huber", "mse"):
            raise ValueError(f"unknown loss {loss!r}")
        self.X, self.y, self.loss = X, y.reshape(-1), loss
        n = len(X)
        self.chunks = [(i, min(i + CHUNK_ROWS, n)) for i in range(0, n, CHUNK_ROWS)]
        self.threads = max(1, min(threads or os.cpu_count() or 1, len(self.chunks)))
        rows = min(CHUNK_ROWS, n)
        # Scratch per thread, allocated once: t and g in X's dtype, two boolean masks.
        self.scratch = [
            (
                np.empty(rows, X.dtype),
                np.empty(rows, X.dtype),
                np.empty(rows, bool),
                np.empty(rows, bool),
            )
            for _ in range(self.threads)
        ]
        self.ones = np.ones(rows, X.dtype)
        self.pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None

    def _partial(self, k: int, w: np.ndarray, b: float) -> tuple[float, np.ndarray, float]:
        """Σ loss terms, Σ g·x and Σ g over thread k's share of the chunks (float64 sums)."""
        t_buf, g_buf, pos_buf, neg_buf = self.scratch[k]
        total, dw, db = 0.0, np.zeros(self.X.shape[1]), 0.0
        for lo, hi in self.chunks[k :: self.threads]:
            m = hi - lo
            Xc, t, g, ones = self.X[lo:hi], t_buf[:m], g_buf[:m], self.ones[:m]
            if Xc.shape[1] == 1:
                np.multiply(Xc[:, 0], w[0], out=t)  # a (m,1)@(1,) matmul is ~30x slower
            else:
                np.matmul(Xc, w, out=t)
            t -= self.y[lo:hi]  # t = X·w - y, so the residual is r = t + b
            if self.loss == "l1":
                # g = sign(r) = [r > 0] - [r < 0], so sign(0) = 0. Comparing into 1-byte masks
                # and subtracting them as int8 is ~3x faster than np.sign on float32.
                pos, neg = pos_buf[:m], neg_buf[:m]
                np.greater(t, -b, out=pos)
                np.less(t, -b, out=neg)
                np.subtract(pos.view(np.int8), neg.view(np.int8), out=g)
                sum_g = float(g @ ones)
                total += float(g @ t) + b * sum_g  # Σ|r| = Σ sign(r)·(t + b)
            else:
                t += b  # t = r
                if self.loss == "huber":
                    np.clip(t, -HUBER_DELTA, HUBER_DELTA, out=g)  # g = clip(r, -δ, δ)
                    total += float(g @ t) - 0.5 * float(g @ g)  # h(r) = g·r - ½g²
                else:
                    np.multiply(t, 2.0, out=g)  # g = 2r
                    total += float(t @ t)
                sum_g = float(g @ ones)
            dw += Xc.T @ g  # Σ g·x, this chunk
            db += sum_g
        return total, dw, db

    def __call__(self, w: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Loss and gradients at (w, b); dL/dw = Σ g·x / N, dL/db = Σ g / N."""
        beta = float(b[0])
        if self.pool is None:
            parts = [self._partial(0, w, beta)]
        else:
            parts = list(self.pool.map(lambda k: self._partial(k, w, beta), range(self.threads)))
        n = len(self.X)
        total = sum(p[0] for p in parts)
        dw: np.ndarray = np.sum([p[1] for p in parts], axis=0) / n
        db = sum(p[2] for p in parts) / n
        return total / n, dw.astype(w.dtype), np.array([db], dtype=b.dtype)

    def close(self) -> None:
        """Stop the worker threads."""
        if self.pool is not None:
            self.pool.shutdown()


class SufficientStatistics:
    """MSE's (L, dL/dw, dL/db) in O(d²) per step, from statistics of the data taken once.

    With G = XᵀX, s = Σx, q = Xᵀy, t = Σy, u = Σy², and r = Xw + b - y:
        N·L     = wᵀGw + 2b·sᵀw + N·b² - 2wᵀq - 2b·t + u
        dL/dw   = (2/N)·(Gw + b·s - q)
        dL/db   = (2/N)·(sᵀw + N·b - t)
    """

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        X64, y64 = X.astype(np.float64), y.reshape(-1).astype(np.float64)
        self.n = len(X)
        self.G = X64.T @ X64
        self.s = X64.sum(axis=0)
        self.q = X64.T @ y64
        self.t = float(y64.sum())
        self.u = float(y64 @ y64)

    def __call__(self, w: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Loss and gradients at (w, b) without touching X or y."""
        w64, beta, n = w.astype(np.float64), float(b[0]), self.n
        Gw = self.G @ w64
        sw = float(self.s @ w64)
        loss = (
            w64 @ Gw + 2 * beta * sw + n * beta**2 - 2 * w64 @ self.q - 2 * beta * self.t + self.u
        ) / n
        dw = (2.0 / n) * (Gw + beta * self.s - self.q)
        db = (2.0 / n) * (sw + n * beta - self.t)
        return float(loss), dw.astype(w.dtype), np.array([db], dtype=b.dtype)
