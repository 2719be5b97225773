"""The `gradcompare` command line. User errors: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

import torch
from rich.console import Console
from rich.progress import Progress

import manual.train
import torch_impl.train
from compare.bench import DEFAULT_SIZES, IMPLS, BenchConfig, run_bench
from compare.checkpoints import CheckpointErrors, save_manual, save_torch
from compare.config import (
    DEVICE_NAMES,
    DTYPE_NAMES,
    LOSS_NAMES,
    MODEL_NAMES,
    OPTIMIZER_NAMES,
    ConfigError,
    RunConfig,
)
from compare.exercises.runner import CheckError, check_folder
from compare.exercises.scaffold import ScaffoldError, new_copy
from compare.exercises.tasks import TASKS
from compare.experiment import Comparison, run_both
from compare.gradcheck import check_gradients
from compare.report import fmt, history_table, print_report, side_json, to_json
from compare.show import TOPICS as SHOW_TOPICS
from compare.show import render
from compare.single import predict, train_single
from torch_impl.device import DeviceError, resolve_device

EXIT_AGREE, EXIT_DISAGREE, EXIT_USAGE = 0, 1, 2


class UserError(Exception):
    """A problem with what the user asked for; its message says how to fix it."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        """Print `prog: error: message` and a pointer to --help, then exit 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """The flags that make a RunConfig; defaults come from RunConfig itself."""
    d = RunConfig()
    g = p.add_argument_group("training")
    g.add_argument("--loss", choices=LOSS_NAMES, default=d.loss, help="loss function")
    g.add_argument("--lr", type=float, default=d.lr, help="learning rate")
    g.add_argument("--epochs", type=int, default=d.epochs, help="passes over the training data")
    g.add_argument("--seed", type=int, default=d.seed, help="torch.manual_seed before the model")
    g.add_argument(
        "--model", choices=MODEL_NAMES, default=d.model, help="nn.Parameter or nn.Linear"
    )
    g.add_argument("--momentum", type=float, default=d.momentum, help="SGD momentum")
    g.add_argument("--dampening", type=float, default=d.dampening, help="SGD dampening")
    g.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    g.add_argument("--weight-decay", type=float, default=d.weight_decay, help="L2 penalty")
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="mini-batch size")
    g.add_argument("--shuffle", action="store_true", help="new seeded row order every epoch")
    g.add_argument("--optimizer", choices=OPTIMIZER_NAMES, default=d.optimizer, help="optimizer")
    g.add_argument("--betas", type=float, nargs=2, default=d.betas, metavar=("B1", "B2"))
    g.add_argument("--eps", type=float, default=d.eps, help="Adam's epsilon")
    g.add_argument("--amsgrad", action="store_true", help="Adam's AMSGrad variant")
    g.add_argument("--dtype", choices=DTYPE_NAMES, default=d.dtype, help="floating-point type")
    g.add_argument("--device", choices=DEVICE_NAMES, default=d.device, help="torch device")
    g = p.add_argument_group("data: y = weight·x + bias over arange(start, end, step)")
    g.add_argument("--weight", type=float, default=d.weight, help="true weight")
    g.add_argument("--bias", type=float, default=d.bias, help="true bias")
    g.add_argument("--start", type=float, default=d.start, help="first x")
    g.add_argument("--end", type=float, default=d.end, help="x stops before this")
    g.add_argument("--step", type=float, default=d.step, help="spacing of x")
    g.add_argument("--train-split", type=float, default=d.train_split, help="training fraction")
    g.add_argument("--features", type=int, default=d.features, help="number of input features d")
    g.add_argument("--noise", type=float, default=d.noise, help="std of Gaussian noise on y")


def config_from(args: argparse.Namespace) -> RunConfig:
    """Build (and so validate) the RunConfig from parsed flags."""
    values = {f.name: getattr(args, f.name) for f in fields(RunConfig)}
    values["betas"] = tuple(values["betas"])
    return RunConfig(**values)


def make_folder(folder: Path) -> None:
    """Create an output folder up front, so a bad path fails before minutes of work."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create folder {folder}: {e.strerror}; choose another") from None


def cmd_run(args: argparse.Namespace) -> int:
    """Train both implementations side by side and report whether they agree."""
    config = config_from(args)
    for folder in (args.save_dir, args.out):
        if folder is not None:
            make_folder(folder)
    c = run_both(config)
    if args.save_dir is not None:
        save_manual(args.save_dir / "manual.safetensors", c.manual_run, config, None)
        save_torch(args.save_dir / "torch.safetensors", c.torch_run, config, None)
        save_torch(args.save_dir / "torch.pth", c.torch_run, config, None)
    grads = check_gradients(
        c.split.X_train, c.split.y_train, c.initial_weight, c.initial_bias, config.loss
    )
    figures = [] if args.no_plots else write_figures(c, args.out, args.show)
    if args.json:
        report = to_json(c, grads)
        report["figures"] = [str(p) for p in figures]
        print(json.dumps(report, indent=2))
    else:
        console = Console()
        print_report(c, grads, console)
        for path in figures:
            print(f"wrote {path}")  # plain print: a wrapped path cannot be copied
    return EXIT_AGREE if c.agree else EXIT_DISAGREE


def write_figures(c: Comparison, out: Path | None, show: bool) -> list[Path]:
    """Save the run's figures (importing matplotlib only when asked for pictures)."""
    from compare import plots

    out = out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    written = plots.write_run_figures(c, out)
    if show:
        plots.show(c)
    return written


def cmd_train(args: argparse.Namespace) -> int:
    """Train one implementation, optionally resuming from and saving to a checkpoint."""
    config = config_from(args)
    run = train_single(config, args.impl, resume=args.resume, save=args.save)
    t = run.trajectory
    if args.json:
        print(json.dumps(side_json(t)))
        return EXIT_AGREE
    console = Console()
    console.print(history_table(run))
    console.print(f"{args.impl}: weight {fmt(t.weight[-1])}, bias {t.bias[-1]:.4f}")
    if args.save:
        print(f"saved {args.save}")
    return EXIT_AGREE


def cmd_predict(args: argparse.Namespace) -> int:
    """Load a checkpoint and print one prediction per point."""
    X, preds = predict(args.load, args.impl, args.x)
    if args.json:
        xs = X[:, 0].tolist() if X.shape[1] == 1 else X.tolist()
        print(json.dumps({"x": xs, "predictions": preds.tolist()}))
    else:
        print("\n".join(repr(float(p)) for p in preds))
    return EXIT_AGREE


def cmd_bench(args: argparse.Namespace) -> int:
    """Time every implementation's training step and compare them to each other and a floor."""
    from compare.bench_report import bench_table, breakdown_table

    cfg = BenchConfig(
        sizes=tuple(args.sizes),
        loss=args.loss,
        dtype=args.dtype,
        device=resolve_bench_device(args.device),
        repeats=args.repeats,
        threads=args.threads,
        optimizer=args.optimizer,
        impls=tuple(args.impls),
    )
    if args.out is not None:
        make_folder(args.out)
    total = len(cfg.sizes) * cfg.repeats * len(cfg.impls)
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("benchmarking", total=total)
        result = run_bench(cfg, lambda what: bar.update(task, advance=1, description=what))
    figures = []
    if args.out is not None:
        from compare import plots

        path = args.out / "bench.png"
        plots.save_png(plots.bench_figure(result["rows"]), path)
        figures.append(path)
    if args.json:
        result["figures"] = [str(p) for p in figures]
        print(json.dumps(result, indent=2))
        return EXIT_AGREE
    console = Console()
    console.print(bench_table(result))
    console.print(breakdown_table(result))
    for path in figures:
        print(f"wrote {path}")
    return EXIT_AGREE


def resolve_bench_device(name: str) -> str:
    """'auto' -> cuda or cpu; 'cuda' without a GPU is the same one-line error as for run."""
    return resolve_device(name).type


def cmd_exercises(args: argparse.Namespace) -> int:
    """Write a student copy, or grade one."""
    if args.action == "new":
        written = new_copy(args.dir, with_solutions=args.with_solutions, force=args.force)
        kind = "instructor's key" if args.with_solutions else "student copy"
        print(f"wrote the {kind} to {args.dir} ({len(written)} files)")
        print(f"grade it with: gradcompare exercises check {args.dir}")
        return EXIT_AGREE
    numbers = [args.task] if args.task else [t.number for t in TASKS]
    if args.timeout <= 0:
        raise UserError(f"--timeout is {args.timeout}; give seconds > 0")
    results = check_folder(args.dir, numbers, args.timeout)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for r in results:
            print(r.line())
        passed = sum(r.passed for r in results)
        print(f"{passed} passed, {len(results) - passed} failed")
    return EXIT_AGREE if all(r.passed for r in results) else EXIT_DISAGREE


def cmd_show(args: argparse.Namespace) -> int:
    """Print the hand-derived and the autograd code for one idea, side by side."""
    render(args.topic, Console())
    return EXIT_AGREE


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "exercises": cmd_exercises,
    "show": cmd_show,
    "bench": cmd_bench,
    "run": cmd_run,
    "train": cmd_train,
    "predict": cmd_predict,
}


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="train both implementations and compare (the default)")
    add_run_flags(run)
    run.add_argument("--json", action="store_true", help="print one JSON object instead")
    run.add_argument("--save-dir", type=Path, help="write both implementations' checkpoints here")
    run.add_argument("--out", type=Path, help="folder for the figures (default runs/<timestamp>/)")
    run.add_argument("--no-plots", action="store_true", help="write no figures")
    run.add_argument("--show", action="store_true", help="also open the figures in windows")

    train = sub.add_parser("train", help="train one implementation; save or resume checkpoints")
    train.add_argument("--impl", choices=("manual", "torch"), required=True)
    add_run_flags(train)
    train.add_argument("--save", type=Path, help="write a checkpoint (.safetensors, or .pth)")
    train.add_argument("--resume", type=Path, help="start from this checkpoint")
    train.add_argument("--json", action="store_true", help="print one JSON object instead")

    pred = sub.add_parser("predict", help="predict with a saved checkpoint")
    pred.add_argument("--load", type=Path, required=True, help=".safetensors or .pth checkpoint")
    pred.add_argument("--impl", choices=("manual", "torch"), help="which side predicts")
    pred.add_argument("--x", type=float, nargs="+", required=True, help="inputs, d per point")
    pred.add_argument("--json", action="store_true", help="print one JSON object instead")

    bench = sub.add_parser("bench", help="time each implementation's training step")
    bench.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(DEFAULT_SIZES),
        metavar="N",
    )
    bench.add_argument("--loss", choices=LOSS_NAMES, default="l1")
    bench.add_argument("--dtype", choices=DTYPE_NAMES, default="float32")
    bench.add_argument("--device", choices=DEVICE_NAMES, default="cpu")
    bench.add_argument("--repeats", type=int, default=7, help="interleaved samples per size")
    bench.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch.set_num_threads, and manual_fast's threads",
    )
    bench.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    bench.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS))
    bench.add_argument("--json", action="store_true", help="print one JSON object instead")
    bench.add_argument("--out", type=Path, help="write bench.png here")

    ex = sub.add_parser("exercises", help="student copies with the derivations cut out; grading")
    ex_sub = ex.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = ex_sub.add_parser("new", help="write a student copy into DIR")
    new.add_argument("dir", type=Path, metavar="DIR")
    new.add_argument("--with-solutions", action="store_true", help="write the instructor's key")
    new.add_argument("--force", action="store_true", help="write into a non-empty DIR")
    check = ex_sub.add_parser("check", help="grade the student copy in DIR")
    check.add_argument("dir", type=Path, metavar="DIR")
    check.add_argument("--task", type=int, choices=[t.number for t in TASKS], help="one task")
    check.add_argument("--json", action="store_true", help="print JSON instead")
    check.add_argument("--timeout", type=float, default=20.0, help="seconds per task")

    show = sub.add_parser("show", help="the manual and the torch code for one idea, side by side")
    show.add_argument(
        "topic", choices=tuple(SHOW_TOPICS), metavar="TOPIC", help=", ".join(SHOW_TOPICS)
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `gradcompare`; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "run")  # `gradcompare --loss mse` means `gradcompare run --loss mse`
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (manual.train.DivergedError, torch_impl.train.DivergedError) as e:
        lr = getattr(args, "lr", None)
        print(f"gradcompare: error: {e}; try a smaller --lr (this run used {lr})", file=sys.stderr)
    except (ConfigError, DeviceError, UserError, ScaffoldError, CheckError, *CheckpointErrors) as e:
        print(f"gradcompare: error: {e}", file=sys.stderr)
    except OSError as e:  # a folder that cannot be written, a full disk, …
        where = f"{e.filename}: " if e.filename else ""
        print(f"gradcompare: error: {where}{e.strerror or e}; check the path", file=sys.stderr)
    return EXIT_USAGE
