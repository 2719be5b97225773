"""The exercise tasks: what each asks for, where it lives in manual/, and what it is worth."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """One small piece of the hand-derived implementation for a student to write."""

    number: int  # N in "task-N" markers and `pytest -m taskN`
    name: str  # what the student writes
    where: str  # the function(s) holding the solution region
    modules: tuple[str, ...]  # the student's <package>.<module>s the grader imports for it
    package: str = "manual"  # manual (by hand: torch is blocked) or torch_impl (autograd)
    points: float = 10.0  # default worth; an instructor's --points file can change it


TASKS: tuple[Task, ...] = (
    Task(1, "build and split the course data", "manual/data.py: make_line", ("data",)),
    Task(2, "forward pass ŷ = X·w + b", "manual/model.py: forward", ("model",)),
    Task(3, "MSE gradient dL/dŷ", "manual/losses.py: mse_grad", ("losses",)),
    Task(4, "L1 subgradient dL/dŷ", "manual/losses.py: l1_grad", ("losses",)),
    Task(5, "Huber gradient dL/dŷ", "manual/losses.py: huber_grad", ("losses",)),
    Task(6, "chain rule to dw and db", "manual/gradients.py: backward", ("gradients",)),
    Task(7, "plain SGD update", "manual/optim/sgd.py: sgd_update", ("optim",)),
    Task(
        8,
        "momentum, Nesterov, weight decay, maximize",
        "manual/optim/sgd.py: sgd_direction",
        ("optim",),
    ),
    Task(9, "training loop with train and test loss", "manual/train.py: fit", ("train", "optim")),
    Task(
        10,
        "save and load a checkpoint",
        "manual/checkpoint.py: save, read_safetensors",
        ("checkpoint", "optim", "train"),
    ),
    Task(
        11,
        "the chapter's exercise: y = 0.3x + 0.9",
        "manual/exercise.py: chapter_exercise",
        ("exercise",),
    ),
    Task(12, "Adam and AdamW update", "manual/optim/adam.py: adam_step", ("optim",)),
    Task(
        13,
        "the course's model, loss and optimizer",
        "torch_impl/train.py: build",
        ("train",),
        "torch_impl",
    ),
    Task(
        14,
        "the training loop in torch",
        "torch_impl/train.py: train_step",
        ("train",),
        "torch_impl",
    ),
    Task(
        15,
        "predict under eval() and inference_mode()",
        "torch_impl/train.py: predict",
        ("train",),
        "torch_impl",
    ),
    Task(
        16,
        "save and load the state_dict",
        "torch_impl/checkpoint.py: save_state_dict, load_state_dict",
        ("checkpoint",),
        "torch_impl",
    ),
    Task(17, "RMSprop update", "manual/optim/rmsprop.py: rmsprop_step", ("optim",)),
    Task(
        18, "cosine annealing of the lr", "manual/schedulers.py: cosine_annealing", ("schedulers",)
    ),
)
BY_NUMBER = {t.number: t for t in TASKS}

# Task 13's evidence that build()'s optimizer holds the model's parameters: the probe hands it
# these gradients (dL/dw, dL/db) for one step, and the grader checks θ moved by -lr·g.
STEP_GRADIENTS = (0.25, -0.5)
# And a second step's: momentum, dampening and the like show only from the second step on.
SECOND_GRADIENTS = (-0.75, 0.125)
