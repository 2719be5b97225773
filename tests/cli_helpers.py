"""Run the CLI in-process and capture what a user would see."""

from __future__ import annotations

from compare.cli import main


def run_cli(capsys, *argv: str) -> tuple[int | str | None, str, str]:
    code: int | str | None
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse exits on usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
