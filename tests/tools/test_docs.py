"""The docs stay true: the walkthrough's code runs, and the README keeps its two commands."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_walkthrough_code_runs(capsys):
    text = (ROOT / "docs" / "walkthrough.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "walkthrough.md", "exec"), namespace)
    assert namespace["result"].agree and namespace["checked"].ok
    assert round(float(namespace["w_end"][0]), 4) == 0.5784
    assert round(float(namespace["b_end"][0]), 4) == 0.3513


def test_readme_commands_and_links():
    readme = (ROOT / "README.md").read_text()
    assert 'pip install "torch==2.13.0" -e ".[dev]" && gradcompare' in readme
    assert "python -m pytest" in readme
    for doc in (
        "docs/derivations.md",
        "docs/walkthrough.md",
        "docs/exercises.md",
        "docs/mistakes.md",
    ):
        assert doc in readme and (ROOT / doc).is_file()
    for image in re.findall(r"\]\((docs/images/[^)]+)\)", readme):
        assert (ROOT / image).is_file(), image
