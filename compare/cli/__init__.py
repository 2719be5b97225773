"""The `gradcompare` command line. User errors: one line on stderr, exit 2, no traceback.

`--help`, `--version` and `show` import neither torch nor matplotlib; the other commands
import what they need when they run.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType

from compare.cli.parser import EXIT_USAGE, build_parser

COMMANDS = ("run", "train", "predict", "bench", "exercises", "show", "diagnose")
EXIT_INTERRUPTED = 130


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `gradcompare`; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "run")  # `gradcompare --loss mse` means `gradcompare run --loss mse`
    args = build_parser().parse_args(argv)
    args.argv = argv  # which flags were typed: a resume keeps the checkpoint's for the others
    if args.command == "show":
        return _quiet_pipe(lambda: _show(args.topic))
    from compare.cli import commands

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _quiet_pipe(lambda: commands.dispatch(args))
    except KeyboardInterrupt as e:
        what = "terminated" if isinstance(e, Interrupted) else "interrupted"
        print(f"gradcompare: {what}; nothing partial was written", file=sys.stderr)
        return EXIT_INTERRUPTED + (13 if isinstance(e, Interrupted) else 0)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _show(topic: str) -> int:
    from rich.console import Console

    from compare.cli.show import render

    render(topic, Console())
    return 0


def _quiet_pipe(run: Callable[[], int]) -> int:
    """Run the command; a reader that closed the pipe (`gradcompare | head`) ends it quietly."""
    try:
        code = run()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Python would complain again at exit while flushing; point stdout at nothing instead.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


__all__ = ["EXIT_USAGE", "main"]
