"""gradcompare diagnose: each catalogued mistake is named, correct loops pass, unknown ones are
never given a name, and broken or hostile files get one line and exit 2."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from compare.closed_form import mse_stable_lr
from compare.diagnose.catalogue import CATALOGUE
from compare.diagnose.run import DiagnoseError, Settings, diagnose
from compare.sandbox import Limits

from ..cli_helpers import run_cli

MISTAKES = Path(__file__).resolve().parents[2] / "docs" / "mistakes"
TIGHT = Limits(wall_s=120, cpu_s=8)  # an endless loop dies after 8 CPU s (torch takes ~2)


# file -> (the first id named, settings the file is diagnosed with)
NAMED = {
    "no_zero_grad": ("no_zero_grad", {}),
    "zero_grad_after_backward": ("zero_grad_after_backward", {}),
    "step_before_backward": ("step_before_backward", {}),
    "wrong_parameters": ("wrong_parameters", {}),
    "sum_reduction": ("sum_reduction", {}),
    "trained_on_test": ("trained_on_test", {}),
    "backward_on_test_loss": ("backward_on_test_loss", {}),
    "wrong_lr": ("wrong_lr", {}),
    "wrong_epochs": ("wrong_epochs", {}),
    "no_seed": ("no_seed", {}),
    "lr_too_large": ("lr_too_large", {"loss": "mse"}),
}


def test_every_catalogued_id_has_a_learner_file():
    ids = set(NAMED) | {"test_with_grad", "test_in_train_mode"}
    assert ids == set(CATALOGUE)
    assert all((MISTAKES / f"{name}.py").is_file() for name in ids)


@pytest.mark.parametrize("name", NAMED)
def test_each_mistake_is_named_first(name, capsys):
    first, settings = NAMED[name]
    flags = [x for k, v in settings.items() for x in (f"--{k}", str(v))]
    code, out, _ = run_cli(capsys, "diagnose", str(MISTAKES / f"{name}.py"), "--json", *flags)
    data = json.loads(out)
    assert code == 1 and data["correct"] is False
    assert data["diagnosis"][0]["id"] == first, data["diagnosis"]
    assert all(d["id"] in CATALOGUE for d in data["diagnosis"])


def test_the_recovered_lr_and_the_stable_limit_are_reported():
    (wrong,) = diagnose(MISTAKES / "wrong_lr.py").diagnosis
    assert "the learning rate is 0.1, not 0.01" in wrong.message
    result = diagnose(MISTAKES / "lr_too_large.py", Settings(loss="mse"))
    limit = mse_stable_lr(result.data.X_train)
    assert f"lr 1.5 is too large: it is above the stable limit {limit:.4g}" in (
        result.diagnosis[0].message
    )


@pytest.mark.parametrize("name", ["correct", "correct_zero_last", "correct_build"])
def test_a_correct_loop_in_three_styles_is_correct(name, capsys):
    code, out, _ = run_cli(capsys, "diagnose", str(MISTAKES / f"{name}.py"), "--json")
    data = json.loads(out)
    assert code == 0 and data["correct"] is True
    assert data["diagnosis"] == [] and data["warnings"] == [] and data["first_departure"] is None


@pytest.mark.parametrize("name", ["test_with_grad", "test_in_train_mode"])
def test_warnings_leave_the_run_correct(name):
    result = diagnose(MISTAKES / f"{name}.py")
    assert result.correct and [w.id for w in result.warnings] == [name]


@pytest.mark.parametrize(
    ("name", "epoch"),
    [("unknown_lr_schedule", 51), ("unknown_clipping", 0), ("unknown_half_data", 0)],
)
def test_an_unknown_deviation_is_placed_never_named(name, epoch, capsys):
    code, out, _ = run_cli(capsys, "diagnose", str(MISTAKES / f"{name}.py"))
    assert code == 1
    assert f"UNKNOWN: the run departs at epoch {epoch} " in out
    assert "not a mistake the catalogue knows" in out and "MISTAKE" not in out
    data = diagnose(MISTAKES / f"{name}.py").as_json()
    assert data["diagnosis"] == [] and data["first_departure"]["epoch"] == epoch


def test_settings_flags_are_passed_to_train_and_the_reference(tmp_path):
    result = diagnose(MISTAKES / "correct.py", Settings(epochs=30, lr=0.05, loss="mse"))
    assert result.correct and len(result.learner_path) == 31
    assert diagnose(MISTAKES / "correct.py", Settings(optimizer="adam", lr=0.05)).correct


BROKEN = {
    "missing": (None, "no such file"),
    "no train": ("def fit(model):\n    pass\n", "defines no train("),
    "syntax error": ("def train(model,,):\n    pass\n", "SyntaxError at line 1"),
    "raises in train": ("def train(*args):\n    x = 1\n    return 1 / 0\n", "ZeroDivisionError at learner.py line 3"),
    "raises on import": ("import nothing_here_at_all\n\ndef train(*a):\n    pass\n", "ModuleNotFoundError at learner.py line 1"),
    "sys.exit": ("import sys\n\ndef train(*a):\n    sys.exit(3)\n", "sys.exit"),
    "os._exit": ("import os\n\ndef train(*a):\n    os._exit(0)\n", "ended the process"),
    "endless loop": ("def train(*a):\n    while True:\n        pass\n", "CPU time"),
    "bad build": ("def build():\n    return 3\n\ndef train(*a):\n    pass\n", "build() must return"),
    "another model": ("import torch\n\ndef build():\n    m = torch.nn.Linear(3, 2)\n    return m, torch.nn.L1Loss(), torch.optim.SGD(m.parameters(), lr=0.1)\n\ndef train(*a):\n    pass\n", "course's linear model"),
}  # fmt: skip


@pytest.mark.parametrize("case", BROKEN)
def test_broken_or_hostile_files_get_one_line_and_exit_2(case, tmp_path, capsys):
    text, needle = BROKEN[case]
    path = tmp_path / "learner.py"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DiagnoseError) as raised:
        diagnose(path, limits=TIGHT)
    assert needle in str(raised.value)
    if case == "no train":  # the CLI diagnoses it as a script, as written: no loop ran
        code, out, err = run_cli(capsys, "diagnose", str(path))
        assert code == 2 and "no optimizer.step() ran" in out and "Traceback" not in err
    elif case != "endless loop":  # the CLI's limit is the default; the function test covers it
        code, out, err = run_cli(capsys, "diagnose", str(path))
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert "Traceback" not in err and needle in err


def test_the_stable_limit_is_where_torch_starts_to_diverge():
    """2/λ_max of the MSE Hessian, checked against what torch's own SGD does around it."""
    X = torch.arange(0, 1, 0.02, dtype=torch.float64).unsqueeze(1)[:40]
    y = 0.7 * X + 0.3
    limit = mse_stable_lr(X.numpy())

    def final_loss(lr):
        w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([w, b], lr=lr)
        for _ in range(3000):
            loss = torch.nn.functional.mse_loss(X * w + b, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    assert final_loss(0.98 * limit) < 1e-6  # just below: converges
    below, above = final_loss(0.98 * limit), final_loss(1.02 * limit)
    assert not np.isfinite(above) or above > 1e6 > below  # just above: explodes


def test_run_names_the_stable_limit_when_mse_diverges(capsys):
    code, _, err = run_cli(capsys, "--loss", "mse", "--lr", "0.9", "--epochs", "3000", "--no-plots")
    assert code == 2 and "diverged at epoch" in err
    assert "above the stable limit 0.8625" in err and len(err.strip().splitlines()) == 1


def test_plot_writes_the_path_on_the_landscape(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "diagnose", str(MISTAKES / "wrong_parameters.py"),
                           "--plot", str(tmp_path))  # fmt: skip
    assert code == 1 and f"wrote {tmp_path / 'diagnosis.png'}" in out
    assert (tmp_path / "diagnosis.png").read_bytes()[:4] == b"\x89PNG"
    import compare

    figure = compare.diagnose_loop(MISTAKES / "sum_reduction.py").plot()
    assert "sum_reduction" in figure.axes[0].get_title()
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert "your path" in labels and "correct path" in labels


def test_diagnosis_renders_in_a_notebook():
    result = diagnose(MISTAKES / "no_zero_grad.py")
    assert "no_zero_grad" in result._repr_html_()


def test_the_docs_show_every_mistake_with_its_real_line_and_picture():
    root = MISTAKES.parent
    text = (root / "mistakes.md").read_text()
    for mid, m in CATALOGUE.items():
        kind = "warning" if m.warning else "MISTAKE"
        assert f"## `{mid}`" in text and f"{kind} {mid}: " in text
        assert (root / "images" / "mistakes" / f"{mid}.png").is_file()
    # The README's example is this run's real output, word for word.
    line = diagnose(MISTAKES / "wrong_parameters.py").lines()[1]
    assert line in (root.parent / "README.md").read_text() and line in text


def test_a_build_that_seeds_itself_with_7_is_not_the_chapters_start(tmp_path):
    """Rebuilding under build()'s own seed would compare seed 7 with seed 7 and call it right."""
    source = (MISTAKES / "correct_build.py").read_text()
    learner = tmp_path / "seed_7.py"
    learner.write_text(source.replace("torch.manual_seed(42)", "torch.manual_seed(7)"))
    result = diagnose(learner)
    assert not result.correct
    assert [f.id for f in result.diagnosis][:1] == ["no_seed"]
    assert "(0.3367, 0.1288)" in result.diagnosis[0].message  # the chapter's seed-42 start


def _kink_path(flip: float):
    """A correct Adam path on data with one point exactly on the line at the start.

    The learner's first gradient counts that point's residual as +0 → sign +1 (as rounding
    on another CPU may), where the hand-derived float64 step sees exactly 0 → sign 0.
    `flip` scales the learner's departure: 1 is the kink's own sign, more is a real error.
    """
    from compare.diagnose.catalogue import Data
    from manual.gradients import gradients
    from manual.losses import LOSSES
    from manual.optim import Adam, init_state, step

    X = np.linspace(0, 0.9, 10, dtype=np.float32)[:, None]
    w, b = np.array([0.5]), np.array([0.25])
    y = (X * 0.7 + 0.3).astype(np.float32)
    y[3, 0] = np.float32(X[3, 0] * w[0] + b[0])  # residual 0 at the start
    data = Data(X, y, X, y)
    opt = Adam(lr=0.05)
    state = init_state(opt, (w, b))
    path, seen = [np.concatenate([w, b])], []
    for k in range(40):
        _, dw, db = gradients(X.astype(np.float64), y.astype(np.float64), w, b, LOSSES["l1"])
        if k == 0:  # the kink: one residual's sign counted as +1 instead of 0
            dw, db = dw + flip * X[3] / 10, db + flip * 1 / 10
        seen.append(np.concatenate([dw, db]))
        (w, b), state = step((w, b), (dw, db), state, opt)
        path.append(np.concatenate([w, b]))
    return np.array(path), np.array(seen), data, opt


def test_a_correct_step_across_an_l1_kink_is_judged_from_the_learners_own_gradient():
    """Another CPU's rounding at a kink must not make a correct Adam loop wrong for good."""
    from compare.diagnose.catalogue import replay, step_matches

    path, seen, data, opt = _kink_path(flip=1.0)
    blind = step_matches(replay("reference", path, data, "l1", opt), path)
    assert not blind.all()  # the old replay: Adam's moments remember the kink ever after
    judged = step_matches(replay("reference", path, data, "l1", opt, seen), path)
    assert judged.all()


def test_a_gradient_beyond_the_kinks_slack_is_still_a_departure():
    from compare.diagnose.catalogue import replay, step_matches

    path, seen, data, opt = _kink_path(flip=3.0)  # three times what one sign can move
    judged = step_matches(replay("reference", path, data, "l1", opt, seen), path)
    assert not judged.all()
