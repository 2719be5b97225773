"""The `gradcompare` argument parser. Importing it costs no torch and no matplotlib."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import MISSING, fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

from compare.bench.config import DEFAULT_SIZES, IMPLS, BenchConfig
from compare.config import (
    CLASSIC_OPTIMIZERS,
    DEVICE_NAMES,
    DTYPE_NAMES,
    LOSS_NAMES,
    MODEL_NAMES,
    OPTIMIZER_NAMES,
    RunConfig,
    field_comments,
    max_elements,
)
from compare.exercises.tasks import TASKS
from compare.isolation import ISOLATION_MODES
from compare.scheduler_args import SCHEDULES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
CHOICES = {
    "loss": LOSS_NAMES,
    "model": MODEL_NAMES,
    "dtype": DTYPE_NAMES,
    "device": DEVICE_NAMES,
    "optimizer": OPTIMIZER_NAMES,
}
LOSS_ALIASES = {"mae": "l1"}  # the chapter calls L1 "MAE" (mean absolute error)
DATA_FIELDS = ("weight", "bias", "start", "end", "step", "train_split", "features", "noise")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, abbreviations are refused, defaults are shown."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # `--x -1e39` is a number, not an option: accept exponents as argparse accepts decimals.
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message: str) -> NoReturn:
        """Print `prog: error: message` and a pointer to --help, then exit 2.

        An unknown flag gets the closest one this subcommand has ("did you mean --epochs?").
        """
        if message.startswith("unrecognized arguments: "):
            line = self._unknown(message.removeprefix("unrecognized arguments: ").split())
            self.exit(EXIT_USAGE, f"gradcompare: error: {line}\n")
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: None = None
    ) -> argparse.Namespace:
        """As argparse's; the words are kept, so an unknown flag is matched in its subcommand."""
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_args(self._argv, namespace)

    def _unknown(self, tokens: list[str]) -> str:
        """'unknown flag --epoch; did you mean --epochs? (see gradcompare run --help)'."""
        parser: argparse.ArgumentParser = self
        for word in getattr(self, "_argv", []):  # follow the subcommands that were typed
            subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            if subs and word in subs[0].choices:
                parser = subs[0].choices[word]
        flags = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
        token = tokens[0]
        name = token.split("=", 1)[0]
        if not name.startswith("-"):
            return f"unexpected argument {token!r} (see '{parser.prog} --help')"
        close = difflib.get_close_matches(name, flags, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"unknown flag {name}{hint} (see '{parser.prog} --help')"


def loss_name(value: str) -> str:
    """--loss VALUE: a LOSS_NAMES entry, or an alias the chapter uses (mae is l1)."""
    return LOSS_ALIASES.get(value.lower(), value)


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """One flag per RunConfig field: type and default from the field, help from its comment."""
    helps = field_comments(RunConfig)
    training = p.add_argument_group("training")
    data = p.add_argument_group(
        "data: y = X·w + bias, X[:, 0] = arange(start, end, step)",
        f"at most {max_elements():,} values (points × features) on this machine",
    )
    for f in fields(RunConfig):
        group = data if f.name in DATA_FIELDS else training
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        if isinstance(default, bool):
            group.add_argument(flag, action="store_true", help=helps[f.name])
        elif f.name == "scheduler":
            group.add_argument(
                flag, choices=tuple(SCHEDULES), default=None, metavar="NAME",
                help=f"torch.optim.lr_scheduler's class, lower case: {', '.join(SCHEDULES)}",
            )  # fmt: skip
        elif f.name == "scheduler_args":
            group.add_argument(
                flag, nargs="+", default=(), metavar="KEY=VALUE",
                help="the scheduler's keywords, by torch's names, e.g. step_size=30 gamma=0.5",
            )  # fmt: skip
        elif f.name == "optim_args":
            group.add_argument(
                flag, nargs="+", default=(), metavar="KEY=VALUE",
                help="torch.optim's other keywords, by torch's names: numbers, true/false, (a,b); "
                "e.g. --optimizer rmsprop --optim-args alpha=0.9 centered=true",
            )  # fmt: skip
        elif isinstance(default, tuple):
            metavar = ("B1", "B2") if f.name == "betas" else None
            group.add_argument(
                flag, type=float, nargs=len(default), default=default, metavar=metavar,
                help=helps[f.name],
            )  # fmt: skip
        else:
            kind: Callable[[str], object] = (
                loss_name if f.name == "loss"
                else int if f.name in ("epochs", "seed", "features", "batch_size")
                else type(default)
            )  # fmt: skip
            group.add_argument(
                flag, type=kind, default=default, choices=CHOICES.get(f.name), help=helps[f.name]
            )


def add_grading_flags(p: argparse.ArgumentParser) -> None:
    """What every grading command takes: the seed, the points, the limits per task."""
    p.add_argument("--seed", type=int, help="replay a grading run's drawn inputs (default: fresh)")
    p.add_argument("--points", type=Path, help="TOML file with a [points] table, e.g. 8 = 20")
    p.add_argument("--timeout", type=float, default=120.0, help="wall-clock seconds per task")
    p.add_argument("--cpu", type=int, default=60, help="CPU seconds per task")
    p.add_argument("--memory-mb", type=int, default=2048, help="memory per task, MiB")
    add_isolation_flag(p)


def add_isolation_flag(p: argparse.ArgumentParser) -> None:
    """--isolation: how student or learner code is fenced off (compare/isolation.py)."""
    p.add_argument(
        "--isolation", choices=ISOLATION_MODES, default="auto",
        help="auto: bubblewrap where it runs, else rlimits and a one-line warning; "
        "required: refuse to run without bubblewrap; none: rlimits only, no warning",
    )  # fmt: skip


def package_version() -> str:
    """The installed distribution's version, or 'unknown' when run from a bare checkout."""
    try:
        return version("gradcompare")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> Parser:
    """The parser for every subcommand."""
    parser = Parser(
        prog="gradcompare",
        description="Linear regression trained with hand-derived NumPy gradients and with "
        "PyTorch autograd, compared epoch by epoch.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    run = sub.add_parser("run", help="train both implementations and compare (the default)")
    add_run_flags(run)
    out = run.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print one JSON object instead")
    out.add_argument("--save-dir", type=Path, help="write both implementations' checkpoints here")
    out.add_argument("--out", type=Path, help="folder for the figures (default runs/<timestamp>/)")
    out.add_argument("--no-plots", action="store_true", help="write no figures")
    out.add_argument("--show", action="store_true", help="also open the figures in windows")

    train = sub.add_parser("train", help="train one implementation; save or resume checkpoints")
    train.add_argument(
        "--impl", choices=("manual", "torch"), default="torch",
        help="which side trains (the chapter's is torch)",
    )  # fmt: skip
    add_run_flags(train)
    train.add_argument("--save", type=Path, help="write a checkpoint (.safetensors, or .pth)")
    train.add_argument(
        "--resume", type=Path,
        help="continue this checkpoint: flags left out take its recorded settings",
    )  # fmt: skip
    train.add_argument(
        "--override", action="append", choices=("lr",), default=[],
        help="with --resume: let this setting differ from the checkpoint's (recorded in it)",
    )  # fmt: skip
    train.add_argument("--json", action="store_true", help="print one JSON object instead")

    pred = sub.add_parser("predict", help="predict with a saved checkpoint")
    pred.add_argument("--load", type=Path, required=True, help=".safetensors or .pth checkpoint")
    pred.add_argument(
        "--impl", choices=("manual", "torch"), help="which side predicts (default: by suffix)"
    )
    pred.add_argument("--x", type=float, nargs="+", required=True, help="inputs, d per point")
    pred.add_argument("--json", action="store_true", help="print one JSON object instead")

    b = BenchConfig()
    bench = sub.add_parser("bench", help="time each implementation's training step")
    bench.add_argument(
        "--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), metavar="N",
        help="numbers of training points to time",
    )  # fmt: skip
    bench.add_argument("--features", type=int, default=b.features, help="input features d")
    bench.add_argument(
        "--loss", type=loss_name, choices=LOSS_NAMES, default=b.loss, help="loss (mae = l1)"
    )
    bench.add_argument("--dtype", choices=DTYPE_NAMES, default=b.dtype, help="floating-point type")
    bench.add_argument("--device", choices=DEVICE_NAMES, default=b.device, help="torch device")
    bench.add_argument("--repeats", type=int, default=b.repeats, help="interleaved samples")
    bench.add_argument(
        "--threads", type=int, default=len(os.sched_getaffinity(0)),
        help="torch.set_num_threads, and manual_fast's threads (default: usable cores)",
    )  # fmt: skip
    bench.add_argument(
        "--optimizer", choices=("sgd", "adam"), default=b.optimizer, help="optimizer to time"
    )
    bench.add_argument(
        "--impls", nargs="+", choices=IMPLS, default=list(IMPLS), help="implementations to time"
    )
    bench.add_argument(
        "--keep-freed-memory", action="store_true",
        help="also time every step in a child whose glibc keeps freed memory for reuse "
        "(MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_), shown beside the default rows",
    )  # fmt: skip
    bench.add_argument("--json", action="store_true", help="print one JSON object instead")
    bench.add_argument("--out", type=Path, help="write bench.png here")

    ex = sub.add_parser("exercises", help="student copies with the derivations cut out; grading")
    ex_sub = ex.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    new = ex_sub.add_parser("new", help="write a student copy into DIR")
    new.add_argument("dir", type=Path, metavar="DIR", help="folder to write")
    new.add_argument("--with-solutions", action="store_true", help="write the instructor's key")
    new.add_argument(
        "--force", action="store_true", help="move an existing DIR aside (DIR.bak-<time>) first"
    )
    check = ex_sub.add_parser("check", help="grade the student copy in DIR")
    check.add_argument("dir", type=Path, metavar="DIR", help="the student copy")
    check.add_argument(
        "--task", type=int, choices=[t.number for t in TASKS], help="grade only this task"
    )
    check.add_argument("--student", help="the id in the report (default: DIR's name)")
    check.add_argument("--json", action="store_true", help="print one JSON object instead")
    check.add_argument(
        "--gradescope", type=Path, metavar="RESULTS.json",
        help="also write Gradescope's results.json here",
    )  # fmt: skip
    add_grading_flags(check)
    auto = ex_sub.add_parser(
        "autograder", help="write a Gradescope autograder zip (setup.sh, run_autograder)"
    )
    auto.add_argument("zip", type=Path, metavar="OUT.zip", help="the zip to write")
    auto.add_argument("--points", type=Path, help="TOML file with a [points] table to ship")
    grade = ex_sub.add_parser(
        "grade", help="grade every sub-folder of SUBMISSIONS into one CSV, with feedback.txt"
    )
    grade.add_argument("submissions", type=Path, metavar="SUBMISSIONS", help="one folder each")
    grade.add_argument("--out", type=Path, required=True, help="the CSV to write")
    grade.add_argument(
        "--jobs", type=int, default=len(os.sched_getaffinity(0)), help="submissions at once"
    )
    grade.add_argument(
        "--resume", action="store_true",
        help="keep the rows already in --out (an interrupted batch) and grade the others",
    )  # fmt: skip
    add_grading_flags(grade)
    books = ex_sub.add_parser(
        "grade-notebooks",
        help="grade the chapter's exercise notebook for a class: one .ipynb (or folder) each",
    )
    books.add_argument("submissions", type=Path, metavar="SUBS", help="one notebook each")
    books.add_argument("--out", type=Path, required=True, help="the CSV to write")
    books.add_argument(
        "--expect", default="exercise", metavar="SPEC",
        help="what was asked: exercise (default), chapter, or an instructor's FILE.toml",
    )  # fmt: skip
    books.add_argument(
        "--points", type=Path, help="TOML file with a [parts] table, e.g. training = 40"
    )
    books.add_argument(
        "--gradescope", type=Path, metavar="DIR", help="also write DIR/STUDENT/results.json"
    )
    books.add_argument(
        "--jobs", type=int, default=len(os.sched_getaffinity(0)), help="notebooks at once"
    )
    books.add_argument("--timeout", type=float, default=300.0, help="wall-clock seconds each")
    add_isolation_flag(books)

    diag = sub.add_parser(
        "diagnose", help="run your own torch training loop and name the mistake in it"
    )
    diag.add_argument(
        "files", type=Path, nargs="+", metavar="PATH",
        help="a notebook (.ipynb) or script (.py) as written; or a .py that defines "
        "train(model, loss_fn, optimizer, X_train, y_train, X_test, y_test, epochs)",
    )  # fmt: skip
    diag.add_argument(
        "--expect", metavar="SPEC",
        help="check the settings too: chapter, exercise, or an instructor's FILE.toml",
    )  # fmt: skip
    diag.add_argument("--csv", type=Path, metavar="FILE", help="one row per file, for a class")
    diag.add_argument("--epochs", type=int, default=100, help="train() form: passed to train()")
    diag.add_argument("--lr", type=float, default=0.01, help="the learning rate to check against")
    diag.add_argument(
        "--loss", type=loss_name, choices=LOSS_NAMES, default="l1",
        help="the loss to check against (mae = l1)",
    )  # fmt: skip
    diag.add_argument(
        "--optimizer",
        choices=CLASSIC_OPTIMIZERS,
        default="sgd",
        help="the optimizer to check against",
    )
    diag.add_argument("--json", action="store_true", help="print one JSON object instead")
    diag.add_argument("--plot", type=Path, metavar="DIR", help="write diagnosis.png here")
    diag.add_argument("--timeout", type=float, default=120.0, help="wall-clock seconds for the run")
    add_isolation_flag(diag)

    from compare.cli.show import TOPICS

    show = sub.add_parser("show", help="the manual and the torch code for one idea, side by side")
    show.add_argument("topic", choices=tuple(TOPICS), metavar="TOPIC", help=", ".join(TOPICS))
    show.add_argument(
        "name", nargs="?", metavar="NAME",
        help="with optimizer: one family beside torch.optim's own step, e.g. rmsprop",
    )  # fmt: skip
    return parser
