"""The mistakes a notebook's diagnosis names: stable ids, and the fix in one line.

Each is proven from the recording (hooks.py), never guessed from the code's text: the
order of zero_grad / backward / step, the gradients each step saw against the hand-derived
ones, the loss's reduction and shapes, grad mode and model.training at each forward, which
tensors met the model, and when the seed was set. docs/mistakes/ holds a notebook for each.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    id: str  # stable, for --json, CSV and tests
    fingerprint: str  # what the recording shows
    fix: str  # the one line a learner reads


MISTAKES = {
    m.id: m
    for m in (
        Mistake(
            "no_zero_grad",
            "each step's gradient is the sum of every gradient so far",
            "gradients are never zeroed, so they accumulate: call optimizer.zero_grad() "
            "before loss.backward()",
        ),
        Mistake(
            "zero_grad_after_backward",
            "zero_grad() between backward() and step(): every step sees no gradient",
            "zero_grad() wipes the gradient that backward() "
            "just made: call it before loss.backward()",
        ),
        Mistake(
            "step_before_backward",
            "step() comes before backward(): each step uses the previous epoch's gradient",
            "call loss.backward() first, then optimizer.step()",
        ),
        Mistake(
            "wrong_parameters",
            "the optimizer steps tensors the trained model does not own",
            "build the optimizer over this model's parameters(): "
            "torch.optim.SGD(model.parameters(), lr=0.01)",
        ),
        Mistake(
            "sum_reduction",
            "the loss is summed: every gradient is N times larger",
            "use the mean (the default reduction='mean', or torch.mean) so the step does "
            "not grow with N",
        ),
        Mistake(
            "trained_on_test",
            "the training forward's input is the test split",
            "train on X_train and y_train; keep the test split for evaluation",
        ),
        Mistake(
            "test_with_grad",
            "a test loss computed with autograd on",
            "compute the test loss under torch.inference_mode() (or torch.no_grad())",
        ),
        Mistake(
            "test_on_train",
            "the test loss is computed on the training split",
            "compute the test loss on X_test and y_test",
        ),
        Mistake(
            "eval_in_training",
            "model.training is False at the training forward",
            "call model.train() before the training forward, and model.eval() only for testing",
        ),
        Mistake(
            "no_seed",
            "no torch.manual_seed before the model was built",
            "call torch.manual_seed(42) just before building the model, so its start is "
            "reproducible",
        ),
        Mistake(
            "seed_after_model",
            "torch.manual_seed is called only after the model exists",
            "move torch.manual_seed(42) above the line that builds the model",
        ),
        Mistake(
            "broadcast_shape",
            "ŷ and y have different shapes, so the loss compares every ŷ_i with every y_j",
            "give y the shape of ŷ (for example y.unsqueeze(1), or "
            "build X with unsqueeze(dim=1)); torch only warns",
        ),
        Mistake(
            "lr_too_large",
            "the parameters or the loss grow without bound",
            "lower the learning rate",
        ),
        Mistake(
            "not_linear",
            "the model's output is not X·w + b of its parameters",
            "diagnose checks a linear model (nn.Linear, or nn.Parameter weight and bias)",
        ),
        Mistake(
            "unknown_step",
            "a step that no catalogued mistake explains",
            "compare the first departing step with the hand-derived one below",
        ),
        Mistake(
            "no_backward",
            "steps with no loss.backward() recorded",
            "call loss.backward() on the training loss before optimizer.step()",
        ),
    )
}
