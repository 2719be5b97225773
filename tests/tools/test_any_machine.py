"""What a new user meets on any machine, busy or quiet: interrupts at any moment, closed pipes,
no stray folders, bounded memory, and messages that say what to type.

No test sleeps before a signal: each waits for a line the program prints when it is ready.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from compare.cli.show import CONTINUED, TOPICS, render, wrapped

from ..cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
# As the `gradcompare` script does, with the guard the script gets at import (its argv[0] is
# `gradcompare`; this wrapper's is `-c`, so it asks for it) and a line to wait for.
EARLY = (
    "import sys\nimport compare.cli\ncompare.cli.guard_signals()\nprint('ready', flush=True)\n"
    "sys.exit(compare.cli.main(sys.argv[1:]))\n"
)


def _started(args, cwd, ready_on="stdout"):
    """A gradcompare process and its first line (stdout, or stderr for a wrapper)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", EARLY, *args], cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                   (signal.SIGTERM, 143, "terminated")])  # fmt: skip
def test_a_signal_before_torch_is_imported_is_one_line_and_leaves_no_folder(
    tmp_path, sig, code, word
):
    """The signal lands while the command parses its flags and imports torch (~1 s)."""
    proc = _started(["run"], tmp_path)
    proc.send_signal(sig)  # at once: the command has not started training, torch is loading
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert err.strip() == f"gradcompare: {word}; nothing partial was written"
    assert "Traceback" not in out + err
    assert list(tmp_path.iterdir()) == []  # no runs/, no runs/<timestamp>/


def test_ctrl_c_during_training_leaves_no_runs_folder(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "compare", "run", "--epochs", "100000000"], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline().startswith("l1 loss")  # the header: training starts now
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().count("\n") == 0, err
    assert list(tmp_path.iterdir()) == []


PIPED = [
    "run --no-plots --epochs 300",
    "bench --sizes 40 --repeats 1 --impls manual torch_autograd",
    "show loop",
    "exercises check key --task 3",
    "exercises check key",
]


@pytest.mark.parametrize("reader", ["head -1", "true"])
@pytest.mark.parametrize("command", PIPED)
def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(tmp_path, command, reader):
    """`true` closes the pipe before the first write, so every command meets EPIPE."""
    if command.startswith("exercises"):
        assert run_cli_quiet(tmp_path, "exercises new key --with-solutions").returncode == 0
    done = subprocess.run(
        f"set -o pipefail; {sys.executable} -m compare {command} | {reader}",
        shell=True, executable="/bin/bash", cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # bench may warn that the machine was busy (the suite's other workers use the cores):
    # that line is the bench's honest report, not the pipe's noise; nothing else may be there.
    noise = [line for line in done.stderr.splitlines() if not line.startswith(BUSY_WARNING)]
    assert noise == [], done.stderr


BUSY_WARNING = "warning: the machine was busy, so the ratios may not hold: "


def run_cli_quiet(cwd, command):
    return subprocess.run([sys.executable, "-m", "compare", *command.split()], cwd=cwd,
                          capture_output=True, text=True)  # fmt: skip


MEMORY = """
import os, sys, threading
import compare.cli
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
def cpu():
    t = os.times()
    return t.user + t.system
def watch():
    import time
    while cpu() < float(sys.argv[1]):
        time.sleep(0.05)
    base = rss_mb()
    print("base", base, flush=True)
    while cpu() < float(sys.argv[2]):
        time.sleep(0.05)
    print("grown", rss_mb() - base, flush=True)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
compare.cli.main(["run", "--no-plots", "--epochs", "10000000"])
"""
GROWTH_MB = 60  # stated in the README: the record is at most 100,000 rows of both sides


def test_a_ten_million_epoch_run_keeps_its_memory_bounded(tmp_path):
    """Measured on CPU time, not the clock: the same work is watched on a busy machine.

    From 8 to 38 CPU seconds a 10⁷-epoch run trains ~100,000 epochs a side; a per-epoch
    history grows by ~300 MB in that time, the bounded record by ~10 MB.
    """
    done = subprocess.run([sys.executable, "-c", MEMORY, "8", "38"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    lines = dict(line.split() for line in done.stdout.splitlines()
                 if line.startswith(("base ", "grown ")))  # fmt: skip
    assert "grown" in lines, done.stderr[-2000:]
    assert float(lines["grown"]) < GROWTH_MB


def test_the_record_of_a_long_run_is_bounded_and_ends_at_the_last_epoch(monkeypatch):
    import compare.experiment as experiment
    from compare.config import RunConfig

    monkeypatch.setattr(experiment, "RECORD_ROWS", 64)  # tight bounds, injected
    monkeypatch.setattr(experiment, "CHUNK", 50)
    c = experiment.run_both(RunConfig(epochs=1001, dtype="float64"))
    assert len(c.epochs) <= 65 and c.epochs[0] == 0 and c.epochs[-1] == 1000
    assert c.thinned and (c.epochs[1:-1] % (c.epochs[1] - c.epochs[0]) == 0).all()
    # The verdict and maxima cover every epoch, not only the kept rows.
    monkeypatch.setattr(experiment, "RECORD_ROWS", 100_000)
    full = experiment.run_both(RunConfig(epochs=1001, dtype="float64"))
    assert not full.thinned and len(full.epochs) == 1001
    assert c.max_param_diff == pytest.approx(full.max_param_diff, abs=1e-15)
    kept = full.manual.weight[c.epochs]
    assert (kept == c.manual.weight).all()  # the same epochs, chunked or not


def test_divergence_in_a_later_chunk_names_the_runs_epoch(monkeypatch, capsys):
    import compare.experiment as experiment

    monkeypatch.setattr(experiment, "CHUNK", 7)
    code, _, err = run_cli(capsys, "run", "--loss", "mse", "--lr", "1.5", "--no-plots")
    first = err.strip()
    monkeypatch.setattr(experiment, "CHUNK", 10_000)
    code2, _, err2 = run_cli(capsys, "run", "--loss", "mse", "--lr", "1.5", "--no-plots")
    assert code == code2 == 2 and first == err2.strip() and "diverged at epoch" in first


def test_train_defaults_to_the_chapters_torch_side(capsys):
    code, out, _ = run_cli(capsys, "train", "--epochs", "2")
    assert code == 0 and out.startswith("l1 loss") and "torch only" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["run", "--epoch", "3"],
            "unknown flag --epoch; did you mean --epochs? (see 'gradcompare run --help')",
        ),
        (
            ["--lr-rate", "0.1"],
            "unknown flag --lr-rate; did you mean --lr? (see 'gradcompare run --help')",
        ),
        (
            ["exercises", "check", "hw", "--tsk", "3"],
            "did you mean --task? (see 'gradcompare exercises check --help')",
        ),
        (["train", "--zzz"], "unknown flag --zzz (see 'gradcompare train --help')"),
    ],
)
def test_an_unknown_flag_suggests_the_closest_one_of_its_subcommand(capsys, argv, expected):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert expected in err and "unrecognized" not in err


def test_mae_is_the_chapters_name_for_l1(capsys):
    import json

    _, mae, _ = run_cli(capsys, "run", "--loss", "mae", "--epochs", "3", "--json", "--no-plots")
    _, l1, _ = run_cli(capsys, "run", "--loss", "l1", "--epochs", "3", "--json", "--no-plots")
    assert json.loads(mae)["config"]["loss"] == "l1"
    assert json.loads(mae)["manual"] == json.loads(l1)["manual"]


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_show_at_80_columns_never_breaks_a_line_without_marking_it(topic):
    console = Console(width=80, record=True, color_system=None)
    render(topic, console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    code = [line.strip("│ ").rstrip() for line in text.splitlines() if line.startswith("│")]
    starts = [line for line in code if line and not line.lstrip().startswith(CONTINUED)]
    # Every line that is not a marked continuation is where a source line starts.
    import manual
    import torch_impl
    from compare.cli.show import _root, listing

    sources = (
        listing(_root(manual), TOPICS[topic][0])
        + "\n"
        + listing(_root(torch_impl), TOPICS[topic][1])
    )
    for line in starts:
        assert any(src.strip().startswith(line.strip()) for src in sources.splitlines()), line


def test_wrapped_keeps_the_indentation_and_marks_continuations():
    line = (
        "        tensors['history.train_loss'] = np.asarray(history.train_loss, dtype=np.float64)"
    )
    out = wrapped(line, 78).splitlines()
    assert len(out) == 2 and out[0].startswith("        tensors")
    assert out[1].startswith(" " * 12 + CONTINUED) and out[1].endswith("dtype=np.float64)")
    assert wrapped("short", 60) == "short"


def test_the_bench_tables_fit_80_columns_with_full_names(capsys):
    from compare.bench.config import BenchConfig
    from compare.bench.report import bench_tables
    from compare.bench.run import run_bench

    result = run_bench(BenchConfig(sizes=(40,), repeats=1, impls=("manual", "torch_autograd")))
    result["rows"].append(
        {**result["rows"][0], "impl": "torch_compiled_no_autograd", "n": 10_000_000}
    )
    console = Console(width=80, record=True, color_system=None)
    for table in bench_tables(result, console.width):
        console.print(table)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "torch_compiled_no_autograd" in text and "…  " not in text
    spreads = [line for line in text.splitlines() if " … " in line and "µs" in line]
    assert spreads and all(line.count(" … ") == 1 for line in spreads)  # one line each


def test_a_rows_own_spread_is_that_rows_and_not_a_busy_machine():
    from compare.bench.run import busy_reasons

    rows = [{"impl": "manual", "n": 10_000_000, "median_s": 0.1, "iqr_s": 0.08}]
    quiet = {"others_cpu_cores": 0.01}
    assert busy_reasons(rows, quiet, 15e9, 15.5e9) == []
    assert busy_reasons(rows, {"others_cpu_cores": 1.2}, 15e9, 15.5e9)  # others: busy
    assert busy_reasons(rows, quiet, 15e9, 25e9)  # the floor drifted: busy


def test_the_bench_figure_keeps_its_banner_off_the_plot_and_groups_the_legend():
    from compare import plots

    rows = [
        {"impl": impl, "n": n, "median_s": t * n, "min_s": 0.9 * t * n, "max_s": 1.2 * t * n,
         "floor_s": 1e-10 * n, "loss": "l1", "dtype": "float32", "device": "cpu"}
        for impl, t in (("torch_autograd", 3e-8), ("manual", 1e-8), ("manual_fast", 2e-9),
                        ("torch_compiled", 4e-9))
        for n in (40, 1000, 10**6)
    ]  # fmt: skip
    fig = plots.bench_figure(rows, ["other processes used 1.20 cores during the run"])
    ax = fig.axes[0]
    fig.canvas.draw()
    banner = next(t for t in fig.texts if "BUSY MACHINE" in t.get_text())
    axes_top = ax.get_window_extent().y1
    title_top = ax.title.get_window_extent().y1
    assert banner.get_window_extent().y0 >= max(axes_top, title_top) - 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == ["by hand: manual", "by hand: manual_fast", "torch: torch_autograd",
                          "torch: torch_compiled"]  # fmt: skip
    assert not ax.collections or all(type(c).__name__ == "LineCollection" for c in ax.collections)


def test_the_default_figures_folder_is_made_only_when_a_figure_is_written(
    tmp_path, capsys, monkeypatch
):
    from compare import plots

    def fail(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "write_run_figures", fail)
    code, _, err = run_cli(capsys, "run", "--epochs", "2")
    assert code == 130 and not (tmp_path / "runs").exists()
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o555)
    real_open = os.open

    def refuse(path, flags, *a):  # the suite may run as root, for whom 0o555 is writable
        if str(path).startswith(str(tmp_path / "ro")) and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *a)

    monkeypatch.setattr(os, "open", refuse)
    code, out, err = run_cli(capsys, "run", "--epochs", "2", "--out", str(tmp_path / "ro" / "figs"))
    assert code == 2 and "cannot write in" in err and out == ""
    assert not (tmp_path / "ro" / "figs").exists()


def test_the_notebook_bench_table_reads_in_the_right_unit():
    from compare.api import BenchResult

    row = {"n": 10**6, "impl": "manual", "median_s": 0.0132327, "ratio_to_autograd": 1.0,
           "ratio_to_floor": 2.0}  # fmt: skip
    html = BenchResult({"rows": [row]})._repr_html_()
    assert "13.2 ms" in html and "µs" not in html


def test_a_notebook_figure_carries_alt_text():
    from compare import plots
    from compare.api import figure_html
    from compare.config import RunConfig
    from compare.experiment import run_both

    fig = plots.loss_curves_figure(run_both(RunConfig(epochs=3)))
    html = figure_html(fig)
    assert html is not None and html.startswith('<img alt="Train and test loss per epoch')


def test_the_signal_guard_is_the_programs_alone():
    """Importing compare.cli from a library or a notebook leaves its handlers alone; the
    `gradcompare` script and `python -m compare` get the guard at import."""
    code = (
        "import signal, sys\n"
        "sys.argv[0] = {argv0!r}\n"
        "before = signal.getsignal(signal.SIGINT)\n"  # default, or ignored in a background job
        "import compare.cli\n"
        "now = signal.getsignal(signal.SIGINT)\n"
        "print(now is before, now is compare.cli._exit_now)\n"
    )
    for argv0, guarded in (("/usr/bin/python-script", False), ("/venv/bin/gradcompare", True)):
        done = subprocess.run([sys.executable, "-c", code.format(argv0=argv0)],
                              capture_output=True, text=True, check=True)  # fmt: skip
        assert done.stdout.split() == [str(not guarded), str(guarded)], (argv0, done.stderr)


def test_main_in_process_restores_the_callers_handlers(capsys):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    run_cli(capsys, "--version")
    run_cli(capsys, "run", "--epochs", "2", "--no-plots")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
