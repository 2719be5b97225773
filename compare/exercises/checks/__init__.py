"""What each task must return, worked out with torch in the grader's own process.

One module per group of tasks (data, forward and losses, optimizers, loops, checkpoints, the
torch side, RMSprop and the cosine schedule), each with its `build` and `judge`; common.py
holds what they share. CHECKS maps a task's number to its pair. Nothing here is ever visible
to, or importable by, the student's code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from compare.exercises.checks.checkpoints import (
    build_checkpoint,
    build_state_dict,
    judge_checkpoint,
    judge_state_dict,
)
from compare.exercises.checks.common import NOT_WRITTEN, Case, Plan, error_line
from compare.exercises.checks.data import build_data, judge_data
from compare.exercises.checks.families import (
    build_cosine,
    build_rmsprop,
    judge_cosine,
    judge_rmsprop,
)
from compare.exercises.checks.forward_losses import (
    build_backward,
    build_forward,
    build_loss,
    judge_backward,
    judge_forward,
    judge_loss,
)
from compare.exercises.checks.loops import build_chapter, build_loop, judge_chapter, judge_loop
from compare.exercises.checks.optimizers import (
    build_adam,
    build_sgd_direction,
    build_sgd_update,
    judge_adam,
    judge_sgd_direction,
    judge_sgd_update,
)
from compare.exercises.checks.torch_side import (
    build_build,
    build_predict,
    build_torch_loop,
    judge_build,
    judge_predict,
    judge_torch_loop,
)

__all__ = ["CHECKS", "NOT_WRITTEN", "Case", "Plan", "error_line"]

# A builder gets the run's generator and `where`: the folder the sandbox may write in, where
# a task that saves a file gets a folder of its own (None: the system's temporary folder).
Builder = Callable[[np.random.Generator, Path | None], Plan]
Judge = Callable[[dict[str, Any], Plan], list[Case]]


def _writes_nothing(build: Callable[[np.random.Generator], Plan]) -> Builder:
    return lambda rng, where: build(rng)


CHECKS: dict[int, tuple[Builder, Judge]] = {
    1: (_writes_nothing(build_data), judge_data),
    2: (_writes_nothing(build_forward), judge_forward),
    3: (_writes_nothing(build_loss("mse", "mse_grad")), judge_loss),
    4: (_writes_nothing(build_loss("l1", "l1_grad")), judge_loss),
    5: (_writes_nothing(build_loss("huber", "huber_grad")), judge_loss),
    6: (_writes_nothing(build_backward), judge_backward),
    7: (_writes_nothing(build_sgd_update), judge_sgd_update),
    8: (_writes_nothing(build_sgd_direction), judge_sgd_direction),
    9: (_writes_nothing(build_loop), judge_loop),
    10: (build_checkpoint, judge_checkpoint),
    11: (_writes_nothing(build_chapter), judge_chapter),
    12: (_writes_nothing(build_adam), judge_adam),
    13: (_writes_nothing(build_build), judge_build),
    14: (_writes_nothing(build_torch_loop), judge_torch_loop),
    15: (_writes_nothing(build_predict), judge_predict),
    16: (build_state_dict, judge_state_dict),
    17: (_writes_nothing(build_rmsprop), judge_rmsprop),
    18: (_writes_nothing(build_cosine), judge_cosine),
}
