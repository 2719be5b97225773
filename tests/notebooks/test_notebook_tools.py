"""The pieces of a notebook's diagnosis: cells as Jupyter runs them, reading device code,
the settings asked for, the CLI over many files, a script, and a loop of 100,000 epochs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from compare.notebooks.cells import CellsError, read_cells, translate
from compare.notebooks.expect import EXERCISE, Expect, ExpectError, differences, load
from compare.notebooks.hooks import MAX_STEPS
from compare.notebooks.reading import device_notes
from compare.notebooks.run import diagnose_notebook
from compare.sandbox import Limits

NOTEBOOKS = Path(__file__).resolve().parents[2] / "docs" / "mistakes" / "notebooks"


def notebook(path: Path, cells: list[str]) -> Path:
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": c, "metadata": {},
                                           "outputs": []} for c in cells],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))  # fmt: skip
    return path


def test_ipython_syntax_becomes_python_line_for_line():
    code, warnings = translate(
        "%matplotlib inline\n!pip install x\nfiles = !ls\nx = 1\n  %time y = 2\nmodel?"
    )
    assert code.splitlines() == ["pass", "pass", "files = []", "x = 1", "  y = 2", "pass"]
    assert [line for line, _ in warnings] == [2, 3]  # %matplotlib is silent; shell is not
    body, _ = translate("%%time\nfor i in range(2):\n    pass")
    assert body.splitlines()[1:] == ["for i in range(2):", "    pass"]
    skipped, w = translate("%%bash\necho hi")
    assert skipped.strip() == "" and "not run" in w[0][1]


def test_cells_are_code_cells_counted_from_one_and_scripts_split_at_percent_markers(tmp_path):
    nb = notebook(tmp_path / "a.ipynb", ["x = 1", "y = 2"])
    raw = json.loads(nb.read_text())
    raw["cells"].insert(1, {"cell_type": "markdown", "source": "# words", "metadata": {}})
    nb.write_text(json.dumps(raw))
    assert [(c.number, c.source) for c in read_cells(nb)] == [(1, "x = 1"), (2, "y = 2")]
    script = tmp_path / "s.py"
    script.write_text("import torch\n# %%\nx = 1\n# %% [markdown]\n# words\n# %%\ny = 2\n")
    assert [c.source.strip() for c in read_cells(script)] == ["import torch", "x = 1", "y = 2"]
    (tmp_path / "bad.ipynb").write_text("{not json")
    with pytest.raises(CellsError, match="not a notebook"):
        read_cells(tmp_path / "bad.ipynb")


def test_device_code_is_read_for_what_breaks_on_a_gpu():
    cells = read_cells(NOTEBOOKS / "device_dropped_to.ipynb")
    notes, moved = device_notes(
        cells, {"X_train": "tensor", "y_train": "tensor", "model_1": "module"}
    )
    assert {n.id for n in notes} == {"device_dropped_to"} and "model_1" in moved
    guarded = read_cells(NOTEBOOKS / "exercise_parameter_device.ipynb")
    notes, _ = device_notes(guarded, {})
    assert not notes  # "cuda" chosen behind torch.cuda.is_available(), .cpu() before plotting


def test_settings_against_the_exercise_are_one_line_each():
    loop = {"epochs": 1000, "loss": "l1", "optimizer": "sgd", "lr": 0.01,
            "data": {"line": {"weight": 0.3, "bias": 0.9}, "train_points": 80, "points": 100, "split": 0.8}}  # fmt: skip
    (d,) = differences(EXERCISE, loop)
    assert d["message"] == "epochs: 1000, the exercise asks for 300"
    assert differences(EXERCISE, {**loop, "epochs": 300}) == []


def test_an_instructors_toml_is_read_and_a_wrong_key_named(tmp_path):
    spec = tmp_path / "week2.toml"
    spec.write_text('epochs = 50\nloss = "mse"\n')
    assert load(str(spec)) == Expect("week2", epochs=50, loss="mse")
    spec.write_text("epoch = 50\n")
    with pytest.raises(ExpectError, match="unknown key 'epoch'"):
        load(str(spec))
    with pytest.raises(ExpectError, match=r"chapter, exercise or a \.toml"):
        load("homework")


def test_a_script_runs_as_one_namespace_and_writes_only_into_scratch(tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(
        "import torch\n# %%\ntorch.manual_seed(42)\nm = torch.nn.Linear(1, 1)\n"
        "X = torch.arange(0, 1, 0.02).unsqueeze(1); y = 0.7 * X + 0.3\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.01); crit = torch.nn.L1Loss()\n"
        "# %%\nfor _ in range(20):\n    opt.zero_grad(); crit(m(X), y).backward(); opt.step()\n"
        "torch.save(m.state_dict(), 'model.pth')\n"
    )
    out = diagnose_notebook(script).as_json()
    assert out["ran"] and out["loops"][0]["correct"] and out["loops"][0]["cell"] == 3
    assert not (tmp_path / "model.pth").exists()  # saved into the scratch copy, not beside it


def test_a_loop_of_100000_epochs_answers_in_bounded_time_and_memory(tmp_path):
    nb = notebook(tmp_path / "long.ipynb", [
        "import torch\ntorch.manual_seed(42)\nmodel = torch.nn.Linear(1, 1)\n"
        "X = torch.arange(0, 1, 0.01).unsqueeze(1); y = 0.3 * X + 0.9\n"
        "loss_fn = torch.nn.L1Loss(); optimizer = torch.optim.SGD(model.parameters(), lr=0.01)",
        "for epoch in range(100_000):\n    loss = loss_fn(model(X), y)\n    optimizer.zero_grad()\n"
        "    loss.backward()\n    optimizer.step()",
    ])  # fmt: skip
    report = diagnose_notebook(nb, limits=Limits(wall_s=900, cpu_s=900, memory_bytes=3 << 30))
    (loop,) = report.as_json()["loops"]
    assert loop["steps"] == loop["epochs"] == 100_000 and loop["correct"], report.lines()
    assert loop["checked_steps"] == MAX_STEPS  # the record is bounded: the rest were counted
    assert any(w["id"] == "steps_not_checked" for w in report.warnings)
    assert abs(loop["final"]["weight"][0] - 0.3) < 0.02 and abs(loop["final"]["bias"] - 0.9) < 0.02


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compare", "diagnose", *args],
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def test_the_cli_diagnoses_a_class_into_one_csv_with_the_worst_exit(tmp_path):
    files = [
        NOTEBOOKS / f"{n}.ipynb" for n in ("exercise_linear", "no_zero_grad", "missing_package")
    ]
    out = run_cli(*map(str, files), "--expect", "exercise", "--csv", str(tmp_path / "r.csv"),
                  "--plot", str(tmp_path))  # fmt: skip
    assert out.returncode == 2, out.stderr
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [(r["exit"], r["mistakes"]) for r in rows] == [
        ("0", ""),
        ("1", "no_zero_grad"),
        ("2", ""),
    ]
    assert "No module named 'seaborn'" in rows[2]["error"]
    assert (tmp_path / "exercise_linear.png").stat().st_size > 1000
    assert "Traceback" not in out.stderr


def test_the_cli_json_has_the_documented_shape_and_bad_input_is_one_line(tmp_path):
    out = run_cli(str(NOTEBOOKS / "chapter.ipynb"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"file", "ran", "error", "loops", "expect", "warnings"}
    loop = data["loops"][0]
    assert set(loop) >= {"cell", "model", "loss", "reduction", "optimizer", "lr", "epochs", "steps",
                         "seed", "start", "final", "correct", "first_departure", "diagnosis"}  # fmt: skip
    for bad in (["nope.ipynb"], [str(NOTEBOOKS / "chapter.ipynb"), "--expect", "week9"]):
        out = run_cli(*bad)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "Traceback" not in out.stderr


def test_a_correct_adam_loop_with_a_steplr_schedule_is_correct():
    out = diagnose_notebook(NOTEBOOKS / "adam_steplr.ipynb").as_json()
    (loop,) = out["loops"]
    assert loop["optimizer"] == "adam" and loop["correct"] and out["exit"] == 0


FAMILY_LOOPS = {
    "SGD": "lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01",
    "Adam": "lr=0.05, amsgrad=True",
    "AdamW": "lr=0.05, weight_decay=0.1",
    "Adagrad": "lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1",
    "RMSprop": "lr=0.01, alpha=0.9, centered=True, momentum=0.5",
    "Adadelta": "lr=1.0, rho=0.8",
    "Adamax": "lr=0.05",
    "NAdam": "lr=0.05, momentum_decay=0.004",
    "RAdam": "lr=0.05, decoupled_weight_decay=True, weight_decay=0.01",
    "ASGD": "lr=0.05, t0=10",
    "Rprop": "lr=0.01, etas=(0.4, 1.3)",
}


def test_the_diagnosis_replays_every_optimizer_family_by_hand(tmp_path):
    """One loop per torch.optim family, with its distinctive options, each `correct`; and the
    same loop with its gradient halved behind the optimizer's back is not."""
    cells = [
        "import torch\nX = torch.rand(64, 3)\ny = X @ torch.tensor([[0.3], [-0.2], [0.5]]) + 0.9"
    ]
    for name, args in FAMILY_LOOPS.items():
        cells.append(
            f"torch.manual_seed(0)\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.{name}(m.parameters(), {args})\n"
            "for _ in range(60):\n    opt.zero_grad()\n    torch.nn.functional.mse_loss(m(X), y).backward()\n"
            "    opt.step()"
        )
    for sched in ("OneCycleLR(opt, max_lr=0.1, total_steps=60)",
                  "CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=7)"):  # fmt: skip
        cells.append(  # the lr and the momentum move every step: each is read from the record
            "torch.manual_seed(0)\nm = torch.nn.Linear(3, 1)\n"
            "opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)\n"
            f"sched = torch.optim.lr_scheduler.{sched}\n"
            "for _ in range(60):\n    opt.zero_grad()\n    torch.nn.functional.mse_loss(m(X), y).backward()\n"
            "    opt.step()\n    sched.step()"
        )
    cells.append(
        "torch.manual_seed(0)\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.Adam(m.parameters(), lr=0.05)\n"
        "for _ in range(60):\n    opt.zero_grad()\n    torch.nn.functional.l1_loss(m(X), y).backward()\n"
        "    for p in m.parameters():\n        p.grad *= 0.5\n    opt.step()"
    )
    out = diagnose_notebook(notebook(tmp_path / "families.ipynb", cells)).as_json()
    verdicts = [(lp["optimizer"], lp["correct"]) for lp in out["loops"]]
    cycled = [("sgd", True), ("sgd", True)]
    assert verdicts == [(n.lower(), True) for n in FAMILY_LOOPS] + cycled + [("adam", False)], out
    assert out["loops"][-1]["diagnosis"][0]["id"] == "unknown_step"
    assert out["loops"][-1]["first_departure"]["epoch"] == 0


@pytest.mark.parametrize(
    ("cells", "kind", "needle"),
    [
        (["import torch", "while True:\n    pass"], "Stopped", "stopped after 3 s"),
        (["import sys\nsys.exit(3)"], "SystemExit", ""),
        (["import os\nos._exit(0)"], "Stopped", "ended the process"),
        (["x = (", "y = 1"], "SyntaxError", ""),
    ],
    ids=["endless", "sys.exit", "os._exit", "syntax"],
)
def test_a_notebook_that_cannot_finish_is_one_line_with_exit_2(tmp_path, cells, kind, needle):
    nb = notebook(tmp_path / "bad.ipynb", cells)
    report = diagnose_notebook(nb, limits=Limits(wall_s=3, cpu_s=3))
    out = report.as_json()
    assert out["exit"] == 2 and out["error"]["type"] == kind, out
    assert needle in out["error"]["message"]
    line = report.lines()[-1]
    assert line.startswith("cannot run:") and "\n" not in line
