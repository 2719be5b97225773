"""What is checked at the command line's edge, before any work: flags, folders, one clear line."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from compare import optim_args
from compare.config import RunConfig
from compare.files import probe_write


class UserError(Exception):
    """A problem with what the user asked for; its message says how to fix it."""


def config_from(args: argparse.Namespace) -> RunConfig:
    """Build (and so validate) the RunConfig from parsed flags."""
    values = {f.name: getattr(args, f.name) for f in fields(RunConfig)}
    values["betas"] = tuple(values["betas"])
    for key in ("optim_args", "scheduler_args"):
        try:
            values[key] = optim_args.parse(values[key])
        except ValueError as e:
            raise UserError(f"--{key.replace('_', '-')}: {e}") from None
    return RunConfig(**values)


def existing_folder(folder: Path, flag: str) -> None:
    """Create an output folder now (its parent must exist: a typo should not grow a tree)."""
    writable_folder(folder, flag)
    try:
        folder.mkdir(exist_ok=True)
    except OSError as e:
        raise UserError(
            f"{flag} {folder}: cannot create it ({e.strerror}); choose another"
        ) from None


def writable_folder(folder: Path, flag: str, parents: bool = False) -> None:
    """Refuse, before any work, a folder that could not be written later; create nothing.

    The folder itself is made only when the first file goes in (an interrupted run leaves no
    empty folder). With `parents`, missing folders above it are ours to make too (runs/).
    """
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {folder} is a file, not a folder; choose a folder")
    nearest = folder
    while not nearest.exists() and (parents or nearest == folder):
        nearest = nearest.parent
    if not nearest.is_dir():
        raise UserError(
            f"{flag} {folder}: folder {folder.parent} does not exist; create it first "
            f"(mkdir -p {folder.parent})"
        )
    try:
        probe_write(nearest / "probe")  # write there now, not after minutes of training
    except OSError as e:
        where = "it" if nearest == folder else str(nearest)
        raise UserError(
            f"{flag} {folder}: cannot write in {where} ({e.strerror}); choose another"
        ) from None


def given_flags(argv: list[str]) -> frozenset[str]:
    """The RunConfig settings named on the command line (abbreviations are refused, so exact)."""
    named = {
        token.split("=", 1)[0][2:].replace("-", "_") for token in argv if token.startswith("--")
    }
    return frozenset(named & {f.name for f in fields(RunConfig)})
