"""The `gradcompare` command line. User errors: one line on stderr, exit 2, no traceback.

`--help`, `--version` and `show` import neither torch nor matplotlib; the other commands
import what they need when they run.

Ctrl-C and SIGTERM are handled from this module's first statement on: until a command has
begun, nothing can be half-written, so the process says so in one line and exits at once;
once it has begun, both become KeyboardInterrupt, so saves in flight clean up first.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 128 + 15 = 143
STOPPED = "nothing partial was written"


def _exit_now(signum: int, frame: FrameType | None) -> None:
    """Before a command runs (or while torch imports): one line, the shell's exit code."""
    what = "terminated" if signum == signal.SIGTERM else "interrupted"
    os.write(2, f"gradcompare: {what}; {STOPPED}\n".encode())
    os._exit(128 + signum)


for _sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(_sig, _exit_now)

from collections.abc import Callable, Sequence  # noqa: E402  (after the handlers, on purpose)

from compare.cli.parser import EXIT_USAGE, build_parser  # noqa: E402

COMMANDS = ("run", "train", "predict", "bench", "exercises", "show", "diagnose")


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `gradcompare`; returns the exit code."""
    for sig in (signal.SIGINT, signal.SIGTERM):  # in-process callers (tests) may have reset them
        if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(sig, _exit_now)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "run")  # `gradcompare --loss mse` means `gradcompare run --loss mse`
    args = build_parser().parse_args(argv)
    args.argv = argv  # which flags were typed: a resume keeps the checkpoint's for the others
    if args.command == "show":
        return _quiet_pipe(lambda: _show(args.topic))
    from compare.cli import commands  # torch: still under _exit_now, nothing to clean up yet

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _quiet_pipe(lambda: commands.dispatch(args))
    except KeyboardInterrupt as e:
        what = "terminated" if isinstance(e, Interrupted) else "interrupted"
        print(f"gradcompare: {what}; {STOPPED}", file=sys.stderr)
        return EXIT_INTERRUPTED + (13 if isinstance(e, Interrupted) else 0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _show(topic: str) -> int:
    from rich.console import Console

    from compare.cli.show import render

    render(topic, Console())
    return 0


def _quiet_pipe(run: Callable[[], int]) -> int:
    """Run the command; a reader that closed the pipe (`gradcompare | head`) ends it quietly."""
    from rich.console import Console

    # rich answers a broken pipe with SystemExit(1); here it is the same quiet end as print's.
    Console.on_broken_pipe = _raise_broken_pipe  # type: ignore[method-assign]
    try:
        code = run()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _closed_reader()


def _raise_broken_pipe(self: object) -> None:
    raise BrokenPipeError


def _closed_reader() -> int:
    # Python would complain again at exit while flushing; point stdout at nothing instead.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


__all__ = ["EXIT_USAGE", "main"]
