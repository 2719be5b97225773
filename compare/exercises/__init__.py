"""Exercise material: student copies with the hand derivations cut out, and their grader.

The grader (grade.py, checks.py) computes every reference with torch in its own process and
runs the student's code in a sandboxed child (sandbox.py, probe.py) that can neither see nor
patch it. `check("hw1")` grades a copy from Python and renders as a table in a notebook.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Lazy, so `import compare.exercises.tasks` (the command line's parser) stays light.
    if name == "check":
        from compare.exercises.grade import check

        return check
    raise AttributeError(name)
