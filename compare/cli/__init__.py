"""The `gradcompare` command line. User errors: one line on stderr, exit 2, no traceback.

`--help`, `--version` and `show` import neither torch nor matplotlib; the other commands
import what they need when they run.

Ctrl-C and SIGTERM are handled from this module's first statement on: until a command has
begun, nothing can be half-written, so the process says so in one line and exits at once;
once it has begun, both become KeyboardInterrupt, so saves in flight clean up first.
"""

from __future__ import annotations

import atexit
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


def guard_signals() -> dict[int, object]:
    """Ctrl-C and SIGTERM end the process in one line from now on; returns the old handlers."""
    old: dict[int, object] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        old[sig] = signal.getsignal(sig)
        signal.signal(sig, _exit_now)
    return old


def _is_the_program() -> bool:
    """True when this process is `gradcompare` or `python -m compare`, not a library's user."""
    program = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    name, folder = os.path.basename(program), os.path.basename(os.path.dirname(program))
    return name == "gradcompare" or (name == "__main__.py" and folder == "compare")


if _is_the_program():  # from the first statement: before the parser, long before torch
    guard_signals()

from collections.abc import Callable, Sequence  # noqa: E402  (after the handlers, on purpose)

from compare.cli.parser import EXIT_USAGE, build_parser  # noqa: E402

COMMANDS = ("run", "train", "predict", "bench", "exercises", "show", "diagnose")


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `gradcompare`; returns the exit code."""
    callers = guard_signals()  # restored on return: an in-process caller keeps its own
    try:
        return _main(argv)
    finally:
        for sig, handler in callers.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "run")  # `gradcompare --loss mse` means `gradcompare run --loss mse`
    args = build_parser().parse_args(argv)
    args.argv = argv  # which flags were typed: a resume keeps the checkpoint's for the others
    if args.command == "show":
        return _quiet_pipe(lambda: _show(args.topic, args.name))
    from compare.cli import commands  # torch: still under _exit_now, nothing to clean up yet

    # The command has begun: both signals become KeyboardInterrupt, so saves clean up first.
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _quiet_pipe(lambda: commands.dispatch(args))
    except KeyboardInterrupt as e:
        guard_signals()  # a second signal now ends the process as the first did: 130 / 143
        what = "terminated" if isinstance(e, Interrupted) else "interrupted"
        print(f"gradcompare: {what}; {STOPPED}", file=sys.stderr)
        code = EXIT_INTERRUPTED + (13 if isinstance(e, Interrupted) else 0)
        if _is_the_program():
            # The saves are cleaned up by now. Leave with our code at once: once, under load,
            # an interrupt caught here still ended the process by SIGINT (-2) at interpreter
            # exit, and nothing at exit can override os._exit.
            atexit._run_exitfuncs()  # what exit would run first: temporary folders' finalizers
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code


def _show(topic: str, name: str | None) -> int:
    from rich.console import Console

    from compare.cli.show import FAMILY_FILES, render

    if name is not None and (topic != "optimizer" or name not in FAMILY_FILES):
        why = f"show {topic} takes no NAME" if topic != "optimizer" else f"no optimizer {name!r}"
        print(f"gradcompare: error: {why}; `show optimizer NAME` takes one of "
              f"{', '.join(FAMILY_FILES)}", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    render(topic, Console(), name)
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


__all__ = ["EXIT_USAGE", "guard_signals", "main"]
