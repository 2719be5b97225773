"""Writing files so that a crash, a kill or a full disk never leaves half of one behind.

The teaching sides save as the course does, straight to a path; everything here writes
through `atomic_save`, which hands them a temporary path beside the real one and renames.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def temporary(path: Path) -> Path:
    """Where a save to `path` writes first: beside it, recognisably ours."""
    return path.with_name(f".{path.name}.gradcompare-tmp")


def probe_write(path: Path) -> None:
    """Create and remove the file a save to `path` would write first; OSError if it cannot.

    This is how a missing permission, a read-only mount or a stale temporary file left by a
    killed run is found (and the stale file cleared) before any work is done.
    """
    probe = temporary(path)
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644))
    probe.unlink()


def atomic_save(path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` writes the file at a temporary path beside `path`; then it is renamed over.

    The temporary file is created here, fresh (O_EXCL, never through a link someone left in
    its place), so the writer only ever fills a file of ours. A crash leaves the old file
    whole; a stale temporary file from a killed run is replaced by the next save.
    """
    tmp = temporary(path)
    try:
        tmp.unlink(missing_ok=True)  # a stale one, or a link planted there: never followed
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
        write(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_NOFOLLOW)  # no O_TRUNC: what write() wrote stays
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno is not None:
            e.filename = str(path)  # the user's path, never the temporary one, even on ENOSPC
        raise


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through atomic_save."""
    atomic_save(path, lambda tmp: tmp.write_bytes(data))


def versions() -> str:
    """Package versions, as JSON, so a file says what wrote it."""
    found = {}
    for name in ("gradcompare", "numpy", "safetensors", "torch"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return json.dumps(found)
