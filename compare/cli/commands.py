"""What each `gradcompare` subcommand does. Imported only once a command runs."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

import manual.train
import torch_impl.train
from compare.bench.config import BenchConfig
from compare.checkpoints.convert import CheckpointErrors, check_writable
from compare.cli.advice import diverged_advice
from compare.cli.edges import (
    UserError,
    config_from,
    existing_folder,
    given_flags,
    writable_folder,
)
from compare.cli.parser import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from compare.cli.saving import SAVE_DIR_FILES, save_all
from compare.config import ConfigError, RunConfig
from compare.diagnose.run import DiagnoseError
from compare.exercises.results import GradeError
from compare.exercises.scaffold import ScaffoldError, new_copy
from compare.experiment import RECORD_ROWS, Comparison, run_both
from compare.gradcheck import check_gradients
from compare.isolation import IsolationError, use_bwrap
from compare.notebooks.cells import CellsError
from compare.notebooks.class_grades import ClassError
from compare.notebooks.expect import ExpectError
from compare.notebooks.grading import PointsError
from compare.report import fmt, history_table, print_header, print_report, side_json, to_json
from torch_impl.device import DeviceError, resolve_device


def cmd_run(args: argparse.Namespace) -> int:
    """Train both implementations side by side and report whether they agree."""
    config = config_from(args)
    if args.save_dir is not None:
        if config.epochs > RECORD_ROWS:
            raise UserError(
                f"--save-dir keeps every epoch's history, at most {RECORD_ROWS:,} epochs; "
                f"this run has {config.epochs:,} (save fewer, then resume with train --resume)"
            )
        existing_folder(args.save_dir, "--save-dir")
        for name in SAVE_DIR_FILES:
            check_writable(args.save_dir / name, "torch")
    out = None
    if not args.no_plots:
        out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
        writable_folder(out, "--out", parents=args.out is None)  # runs/ is ours to make
    console = Console()
    if not args.json:
        print_header(config, resolve_device(config.device).type, console)  # before training
        sys.stdout.flush()
    c = train_with_progress(config)
    saved = [] if args.save_dir is None else [args.save_dir / n for n in SAVE_DIR_FILES]
    if saved:
        save_all(saved, c, config)
    grads = check_gradients(
        c.split.X_train, c.split.y_train, c.initial_weight, c.initial_bias, config.loss
    )
    figures = [] if out is None else write_figures(c, out, args.show)
    if args.json:
        report = to_json(c, grads)
        report["figures"] = [str(p) for p in figures]
        report["saved"] = [str(p) for p in saved]
        print(json.dumps(report, indent=2))
    else:
        print_report(c, grads, console)
        for path in figures:
            print(f"wrote {path}")  # plain print: a wrapped path cannot be copied
        for path in saved:
            print(f"saved {path}")
    return EXIT_OK if c.agree else EXIT_FAILED


def train_with_progress(config: RunConfig) -> Comparison:
    """run_both, with a progress bar per side on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        return run_both(config)
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        tasks = {
            side: bar.add_task(f"{side:>6}", total=config.epochs) for side in ("manual", "torch")
        }
        return run_both(config, lambda side, epoch: bar.update(tasks[side], completed=epoch + 1))


def write_figures(c: Comparison, out: Path, show: bool) -> list[Path]:
    """Save the run's figures (importing matplotlib only when asked for pictures)."""
    from compare import plots

    written = plots.write_run_figures(c, out)
    if show:
        plots.show(c)
    return written


def cmd_train(args: argparse.Namespace) -> int:
    """Train one implementation, optionally resuming from and saving to a checkpoint."""
    from compare.one_side import train_single

    config = config_from(args)
    if args.override and args.resume is None:
        raise UserError("--override only applies with --resume")
    console = Console()

    def header(settings: RunConfig) -> None:  # the settings that train, after any resume
        if not args.json:
            print_header(settings, resolve_device(settings.device).type, console, args.impl)
            sys.stdout.flush()  # a reader (or a test) sees it before training starts

    run = train_single(
        config, args.impl, resume=args.resume, save=args.save,
        given=given_flags(getattr(args, "argv", [])), overrides=frozenset(args.override),
        on_start=header,
    )  # fmt: skip
    t = run.trajectory
    if args.json:
        print(json.dumps(side_json(t)))
        return EXIT_OK
    console.print(history_table(run.impl, run.first_epoch, t))
    console.print(f"{args.impl}: weight {fmt(t.weight[-1])}, bias {t.bias[-1]:.4f}")
    if args.save:
        print(f"saved {args.save}")
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    """Load a checkpoint and print one prediction per point."""
    from compare.one_side import predict

    X, preds = predict(args.load, args.impl, args.x)
    if args.json:
        xs = X[:, 0].tolist() if X.shape[1] == 1 else X.tolist()
        print(json.dumps({"x": xs, "predictions": preds.tolist()}))
    else:
        print("\n".join(repr(float(p)) for p in preds))
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """Time every implementation's training step and compare them to each other and a floor."""
    from rich.progress import Progress

    from compare.bench.report import bench_tables, breakdown_table, busy_warning, compile_lines
    from compare.bench.run import run_bench

    cfg = BenchConfig(
        sizes=tuple(args.sizes),
        loss=args.loss,
        dtype=args.dtype,
        device=resolve_device(args.device).type,
        repeats=args.repeats,
        threads=args.threads,
        optimizer=args.optimizer,
        impls=tuple(args.impls),
        features=args.features,
        keep_freed_memory=args.keep_freed_memory,
    )
    if args.out is not None:
        writable_folder(args.out, "--out")
    total = len(cfg.sizes) * cfg.repeats * len(cfg.impls)
    if not sys.stderr.isatty():  # a bar only where a person watches; a log gets nothing
        result = run_bench(cfg)
    else:
        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("benchmarking", total=total)
            result = run_bench(cfg, lambda what: bar.update(task, advance=1, description=what))
    figures = []
    if args.out is not None:
        from compare import plots

        path = args.out / "bench.png"
        busy = result["machine"]["busy_reasons"]
        plots.save_png(plots.bench_figure(result["rows"], busy), path)
        figures.append(path)
    if args.json:
        print(json.dumps({**result, "figures": [str(p) for p in figures]}, indent=2))
        warning = busy_warning(result)
        if warning is not None:
            print(f"gradcompare: {warning}", file=sys.stderr)
        return EXIT_OK
    console = Console()
    for table in bench_tables(result, console.width):
        console.print(table)
    for line in compile_lines(result):
        print(line)
    console.print(breakdown_table(result))
    warning = busy_warning(result)
    if warning is not None:
        # One line, however narrow the terminal or the pipe: a wrapped warning reads as three.
        Console(stderr=True).print(warning, style="bold yellow", soft_wrap=True, markup=False)
    for path in figures:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_exercises(args: argparse.Namespace) -> int:
    """Write a student copy, or grade one."""
    if args.action == "new":
        written, moved = new_copy(args.dir, with_solutions=args.with_solutions, force=args.force)
        if moved is not None:
            print(f"moved the old {args.dir} aside to {moved}")
        kind = "instructor's key" if args.with_solutions else "student copy"
        print(f"wrote the {kind} to {args.dir} ({len(written)} files)")
        print(f"grade it with: gradcompare exercises check {args.dir}")
        return EXIT_OK
    from compare.exercises import batch, grade, results
    from compare.sandbox import Limits

    if args.action == "grade-notebooks":
        return grade_notebooks(args)

    if args.action == "autograder":
        from compare.exercises.gradescope import autograder_zip

        if args.zip.suffix != ".zip":
            raise UserError(f"{args.zip}: give a file name ending in .zip")
        if args.points is not None:
            grade.load_points(args.points)  # a bad points file is refused now, not on upload
        writable_folder(args.zip.parent, "autograder")
        names = autograder_zip(args.zip, args.points)
        print(f"wrote {args.zip} ({len(names)} files): upload it as the assignment's autograder")
        return EXIT_OK

    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise UserError(f"--timeout is {args.timeout}; give seconds > 0")
    if args.cpu < 1 or args.memory_mb < 256:
        raise UserError("--cpu needs >= 1 second and --memory-mb >= 256")
    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise UserError(f"--seed is {args.seed}; use an integer from 0 to {2**32 - 1}")
    limits = Limits(args.timeout, args.cpu, args.memory_mb << 20, isolation=args.isolation)
    use_bwrap(args.isolation)  # required without bwrap: refused now, before any work
    points = grade.load_points(args.points)
    if args.action == "grade":
        if args.jobs < 1:
            raise UserError(f"--jobs is {args.jobs}; give at least 1")
        rows = batch.grade_batch(
            args.submissions, args.out, args.seed, limits, points, args.jobs, args.resume
        )
        for r in rows:
            if isinstance(r, results.Gradebook):
                print(f"{r.student}: {r.total:g}/{r.maximum:g}")
            else:
                print(f"{r[0]}: not graded ({r[1]})")
        print(f"wrote {args.out} ({len(rows)} submissions)")
        return EXIT_OK
    numbers = [args.task] if args.task else None
    book = grade.grade_folder(args.dir, numbers, args.seed, limits, points, args.student)
    if args.gradescope is not None:
        from compare.exercises.gradescope import write_results

        write_results(book, args.gradescope)
    if args.json:
        print(results.dumps(book))
    else:
        print("\n".join(book.lines()))
    return EXIT_OK if book.passed else EXIT_FAILED


def cmd_diagnose(args: argparse.Namespace) -> int:
    """Diagnose each file: exit 0 all correct, 1 a mistake, 2 one that cannot run."""
    from compare.notebooks.expect import load
    from compare.sandbox import Limits

    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise UserError(f"--timeout is {args.timeout}; give seconds > 0")
    if args.plot is not None:
        writable_folder(args.plot, "--plot")
    expect = load(args.expect) if args.expect else None
    use_bwrap(args.isolation)
    limits = Limits(wall_s=args.timeout, isolation=args.isolation)
    if len(args.files) == 1 and train_form(args.files[0]):
        return diagnose_train_form(args, args.files[0], limits)
    from compare.notebooks.run import diagnose_notebook

    reports, rows = [], []
    for path in args.files:
        if train_form(path):
            raise UserError(f"{path}: a train() file is diagnosed alone; give it by itself")
        report = diagnose_notebook(path, expect, limits)
        reports.append(report)
        rows.append(report.csv_row())
        if args.csv is not None:
            write_rows(args.csv, rows)
        if not args.json:
            print("\n".join(report.lines()))
    if args.plot is not None:
        from compare import plots
        from compare.notebooks.figure import notebook_figure

        for report in reports:
            figure = args.plot / f"{Path(report.file).stem}.png"
            if report.loops:
                plots.save_png(notebook_figure(report), figure)
                if not args.json:
                    print(f"wrote {figure}")
    if args.json:
        payload = [r.as_json() for r in reports]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
    return max(r.exit_code() for r in reports)


def grade_notebooks(args: argparse.Namespace) -> int:
    """`exercises grade-notebooks SUBS --out grades.csv`: one row per student."""
    from compare.notebooks.class_grades import grade_class
    from compare.notebooks.expect import load
    from compare.notebooks.grading import load_points
    from compare.sandbox import Limits

    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise UserError(f"--timeout is {args.timeout}; give seconds > 0")
    if args.jobs < 1:
        raise UserError(f"--jobs is {args.jobs}; give at least 1")
    expect, points = load(args.expect), load_points(args.points)
    if args.gradescope is not None:
        writable_folder(args.gradescope, "--gradescope", parents=True)
    use_bwrap(args.isolation)
    limits = Limits(wall_s=args.timeout, cpu_s=int(args.timeout), isolation=args.isolation)
    grades = grade_class(args.submissions, args.out, expect, points, args.jobs, limits,
                         args.gradescope)  # fmt: skip
    for g in grades:
        print(f"{g.student}: {g.total:g}/{g.maximum:g}" + (f" ({g.reason})" if g.reason else ""))
    print(f"wrote {args.out} ({len(grades)} notebooks)")
    return EXIT_OK


def train_form(path: Path) -> bool:
    """A .py file that defines train() at its top and never calls it there: the course's
    train(model, loss_fn, optimizer, …) form. A script that calls its own train(300) is
    diagnosed as written."""
    import ast

    if path.suffix != ".py" or not path.is_file():
        return False
    try:
        text = path.read_bytes()
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return b"def train(" in text  # the train() form's own message names the line
    except OSError:
        return False
    defines = any(isinstance(n, ast.FunctionDef) and n.name == "train" for n in tree.body)
    calls = any(
        isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == "train"
        for n in tree.body
        if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for c in ast.walk(n)
    )
    return defines and not calls  # fmt: skip


def write_rows(path: Path, rows: list[dict[str, object]]) -> None:
    """The CSV so far, written whole and atomically after each file."""
    import csv
    import io

    from compare.files import atomic_write
    from compare.notebooks.report import CSV_FIELDS

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buffer.getvalue().encode())


def diagnose_train_form(args: argparse.Namespace, path: Path, limits: object) -> int:
    """The train(model, loss_fn, optimizer, …) form, on the course's data and start."""
    from compare.diagnose.run import Settings, diagnose

    settings = Settings(args.epochs, args.lr, args.loss, args.optimizer)
    result = diagnose(path, settings, limits)  # type: ignore[arg-type]
    figure = None
    if args.plot is not None:
        from compare import plots
        from compare.diagnose.figure import diagnosis_figure

        figure = args.plot / "diagnosis.png"
        plots.save_png(diagnosis_figure(result), figure)
    if args.json:
        print(json.dumps({**result.as_json(), "figure": figure and str(figure)}, indent=2))
    else:
        print("\n".join(result.lines()))
        if figure is not None:
            print(f"wrote {figure}")
    return EXIT_OK if result.correct else EXIT_FAILED


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "diagnose": cmd_diagnose,
    "exercises": cmd_exercises,
    "bench": cmd_bench,
    "run": cmd_run,
    "train": cmd_train,
    "predict": cmd_predict,
}


def dispatch(args: argparse.Namespace) -> int:
    """Run the command; a user's mistake becomes one line on stderr and exit 2."""
    try:
        return COMMANDS[args.command](args)
    except (manual.train.DivergedError, torch_impl.train.DivergedError) as e:
        print(f"gradcompare: error: {e}; {diverged_advice(e, args)}", file=sys.stderr)
    except (
        ConfigError, DeviceError, UserError, ScaffoldError, GradeError, DiagnoseError,
        CellsError, ExpectError, PointsError, ClassError,
        IsolationError, *CheckpointErrors,
    ) as e:  # fmt: skip
        print(f"gradcompare: error: {e}", file=sys.stderr)
    except BrokenPipeError:
        raise  # the reader left: main() ends quietly, this is no error of the user's
    except OSError as e:  # a folder that cannot be written, a full disk, …
        where = f"{e.filename}: " if e.filename else ""
        print(f"gradcompare: error: {where}{e.strerror or e}; check the path", file=sys.stderr)
    return EXIT_USAGE
