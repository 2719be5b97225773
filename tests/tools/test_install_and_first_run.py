"""A new user's first hour: a wheel that works, instant answers, progress, clean exits."""

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

import compare.cli.commands as commands
from compare.cli.parser import build_parser
from compare.cli.show import render
from compare.config import RunConfig

from ..cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_a_wheel_installed_without_e_grades_exercises(tmp_path):
    """pip install . (a wheel) must carry every subpackage: compare.exercises above all."""
    dist, source = tmp_path / "dist", tmp_path / "source"
    # Built from a copy: a build leaves build/ and *.egg-info behind, never in the checkout.
    patterns = shutil.ignore_patterns(
        ".git", ".venv*", "build", "*.egg-info", "__pycache__", ".*cache", "runs")  # fmt: skip

    def ignore(folder: str, names: list[str]) -> set[str]:
        # The top-level notebooks/ (large, not packaged) only: compare/notebooks/ is a package.
        top = {"notebooks", "docs"} & set(names) if Path(folder) == ROOT else set()
        return set(patterns(folder, names)) | top

    shutil.copytree(ROOT, source, ignore=ignore)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(source)], check=True, capture_output=True)  # fmt: skip
    (wheel,) = dist.glob("gradcompare-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("compare/exercises/grade.py", "compare/exercises/checks/__init__.py",
                    "compare/diagnose/run.py", "compare/cli/parser.py",
                    "compare/checkpoints/safety.py", "compare/bench/run.py"):  # fmt: skip
        assert package in names, package
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, str(wheel)],
                   check=True, capture_output=True)  # fmt: skip
    # The dependencies come from this environment, as a path entry: its .pth files (the
    # editable install of this checkout among them) are not processed, so only the wheel's
    # packages can be found.
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    run = [str(python), "-m", "compare", "exercises"]
    done = subprocess.run(
        [*run, "new", "hw", "--with-solutions"], cwd=outside, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    where = subprocess.run([python, "-c", "import compare; print(compare.__file__)"], cwd=outside,
                           capture_output=True, text=True).stdout  # fmt: skip
    assert where.startswith(site)  # the wheel, not this checkout
    done = subprocess.run(
        [*run, "check", "hw", "--task", "3"], cwd=outside, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("PASS  task  3"), (
        done.stdout + done.stderr
    )


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["show", "step"], ["run", "--help"]])
def test_help_version_and_show_import_neither_torch_nor_matplotlib(argv):
    code = (
        "import sys\nfrom compare.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib'))\n"
        "assert not heavy, heavy[:5]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-500:]


def test_a_run_without_figures_never_imports_matplotlib(tmp_path):
    code = (
        "import sys\nfrom compare.cli import main\n"
        "main(['run', '--epochs', '3', '--no-plots'])\n"
        "assert not [m for m in sys.modules if m.startswith('matplotlib')]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-500:]


def test_every_flag_has_help_and_help_shows_defaults(capsys):
    def parsers(p):
        yield p
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    for p in parsers(build_parser()):
        for action in p._actions:
            if action.option_strings and action.dest not in ("help", "version"):
                assert action.help, f"{p.prog} {action.option_strings} has no help"
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0 and "(default: 0.01)" in out and "(default: l1)" in out
    assert "B1 B2" in out and "Adam's β1, β2" in out


def test_a_broken_pipe_exits_quietly_with_0(tmp_path):
    done = subprocess.run(
        f"{sys.executable} -m compare run --epochs 3 --no-plots | head -1",
        shell=True, capture_output=True, text=True, cwd=tmp_path,
        executable="/bin/bash", env={"PATH": "/usr/bin:/bin", "SET": "1"},
    )  # fmt: skip
    assert done.stdout.startswith("l1 loss")
    status = subprocess.run(
        f"set -o pipefail; {sys.executable} -m compare --version | head -0; echo $?",
        shell=True, capture_output=True, text=True, cwd=tmp_path, executable="/bin/bash",
    )  # fmt: skip
    assert status.stdout.strip().endswith("0") and "Traceback" not in done.stderr + status.stderr


def test_show_loss_has_huber_on_both_sides():
    console = Console(width=200, record=True, color_system=None)
    render("loss", console)
    text = console.export_text()
    assert "def huber_grad" in text and "nn.HuberLoss" in text


def test_cuda_without_a_gpu_says_how_to_fix_it(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run_cli(capsys, "--device", "cuda", "--no-plots")
    assert code == 2 and "use --device cpu" in err


def test_a_folder_given_to_predict_is_named_with_the_formats(tmp_path, capsys):
    (tmp_path / "model.txt").write_text("weights 0.7")
    for path, needle in ((tmp_path / "model.txt", ".safetensors and .pth"), (tmp_path, "format")):
        code, _, err = run_cli(
            capsys, "predict", "--load", str(path), "--impl", "manual", "--x", "1"
        )
        assert code == 2 and needle in err and "manual reads" not in err


def test_many_features_finish_with_few_panels_and_a_short_report(tmp_path, capsys):
    code, out, _ = run_cli(
        capsys, "run", "--features", "1000", "--epochs", "20", "--out", str(tmp_path)
    )
    assert code == 0 and len(out.splitlines()) < 60
    flat = "".join(out.split())  # rich wraps cells to the terminal's width
    assert "1000weights" in flat and "996more" in flat
    from compare import plots
    from compare.experiment import run_both

    figure = plots.parameters_figure(run_both(RunConfig(features=1000, epochs=5)))
    assert len(figure.axes) <= 8 and any("‖w" in ax.get_ylabel() for ax in figure.axes)


def test_the_notebook_api_survives_its_subpackages_being_imported():
    import compare
    import compare.bench.run
    import compare.diagnose.run

    assert callable(compare.benchmark) and callable(compare.diagnose_loop)
    assert callable(compare.run) and callable(compare.check) and callable(compare.check_gradients)


def test_the_first_line_prints_before_training(capsys, monkeypatch):
    seen = {}
    real = commands.run_both

    def spy(config, on_epoch=None):
        seen["before"] = capsys.readouterr().out
        return real(config, on_epoch)

    monkeypatch.setattr(commands, "run_both", spy)
    code, _, _ = run_cli(capsys, "run", "--epochs", "3", "--no-plots")
    assert code == 0 and seen["before"].startswith("l1 loss · sgd lr=0.01 · 3 epochs")


def test_the_progress_bar_counts_every_epoch_of_both_sides(monkeypatch):
    calls = []
    real = commands.run_both
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(commands, "run_both", lambda config, on_epoch=None: (
        calls.append(on_epoch), real(config, lambda s, e: (calls.append((s, e)), on_epoch(s, e))))[1])  # fmt: skip
    commands.train_with_progress(RunConfig(epochs=7))
    assert calls[0] is not None
    assert sorted(c for c in calls[1:]) == sorted(
        (s, e) for s in ("manual", "torch") for e in range(7)
    )


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--epochs", "2", "--out", "{ro}"], "--out {ro}: cannot write in it"),
        (
            ["train", "--impl", "manual", "--save", "{ro}/m.safetensors"],
            "{ro}/m.safetensors: cannot write in {ro}",
        ),
        (["train", "--impl", "torch", "--save", "{ro}/m.pth"], "{ro}/m.pth: cannot write in {ro}"),
        (
            ["run", "--epochs", "2", "--no-plots", "--save-dir", "{ro}"],
            "--save-dir {ro}: cannot write in it",
        ),
    ],
)
def test_a_read_only_folder_is_named_before_training(tmp_path, capsys, monkeypatch, argv, needle):
    """A folder that refuses writes, as a read-only one does for anyone but root (tests run as
    root here, so the refusal is made by os.open): one line naming it, before any training."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real_open = os.open

    def refusing(path, flags, *args, **kwargs):
        if Path(path).parent == ro and flags & os.O_WRONLY:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing)
    trained = []
    monkeypatch.setattr(commands, "run_both", lambda *a, **k: trained.append(1))
    code, _, err = run_cli(capsys, *(a.format(ro=ro) for a in argv))
    assert code == 2 and trained == [] and "Traceback" not in err
    assert needle.format(ro=ro) in err and "gradcompare-tmp" not in err
    assert len(err.strip().splitlines()) == 1 and list(ro.iterdir()) == []
