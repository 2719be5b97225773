"""Writing files so that a crash, a kill or a full disk never leaves half of one behind."""

from __future__ import annotations

import os
from pathlib import Path


def temporary(path: Path) -> Path:
    """Where a save to `path` writes first: beside it, recognisably ours (both sides agree)."""
    return path.with_name(f".{path.name}.gradcompare-tmp")


def probe_write(path: Path) -> None:
    """Create and remove the file a save to `path` would write first; OSError if it cannot.

    This is how a missing permission, a read-only mount or a stale temporary file left by a
    killed run is found (and the stale file cleared) before any work is done.
    """
    probe = temporary(path)
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644))
    probe.unlink()


def atomic_write(path: Path, data: bytes) -> None:
    """Write beside `path` under a recognisable temporary name, then rename over it."""
    tmp = temporary(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno is not None:
            e.filename = str(path)  # the user's path, never the temporary one, even on ENOSPC
        raise
