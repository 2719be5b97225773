"""Optimizers: torch.optim's, by their class names in lower case, each keeping its own state.

manual/optim/ writes out what each does, one file per family. Here the state lives in
optimizer.state[param], under the names manual/optim/'s state fields carry, e.g.:
    SGD      "momentum_buffer" (after the first step with momentum > 0)
    Adam     "step", "exp_avg" (m), "exp_avg_sq" (v), and "max_exp_avg_sq" with amsgrad
    RMSprop  "step", "square_avg", and "momentum_buffer" / "grad_avg" when asked for
"""

from __future__ import annotations

from collections.abc import Callable

import torch

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,  # θ ← θ - η·g, with momentum, Nesterov, weight decay, maximize
    "adam": torch.optim.Adam,  # weight decay as λ·θ added to the gradient (L2)
    "adamw": torch.optim.AdamW,  # weight decay applied to θ itself (decoupled)
    "adagrad": torch.optim.Adagrad,  # η / √(Σ g²), per coordinate
    "rmsprop": torch.optim.RMSprop,  # η / √(running mean of g²)
    "adadelta": torch.optim.Adadelta,  # RMS of past steps over RMS of gradients
    "adamax": torch.optim.Adamax,  # Adam with a running max in place of √v
    "nadam": torch.optim.NAdam,  # Adam with Nesterov momentum
    "radam": torch.optim.RAdam,  # Adam, rectified while v is young
    "asgd": torch.optim.ASGD,  # SGD with a decaying step and averaged parameters
    "rprop": torch.optim.Rprop,  # the gradient's sign, with step sizes that adapt
}

# Per-parameter entries of optimizer.state[param] by family, beside "step" (one count for both
# parameters; a checkpoint keeps it in its metadata). eta, mu, mu_product are 0-d float32.
STATE_KEYS = {
    "sgd": ("momentum_buffer",),
    "adam": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),  # and AdamW
    "adagrad": ("sum",),
    "rmsprop": ("square_avg", "momentum_buffer", "grad_avg"),
    "adadelta": ("square_avg", "acc_delta"),
    "adamax": ("exp_avg", "exp_inf"),
    "nadam": ("exp_avg", "exp_avg_sq", "mu_product"),
    "radam": ("exp_avg", "exp_avg_sq"),
    "asgd": ("eta", "mu", "ax"),
    "rprop": ("prev", "step_size"),
}


def optimizer_family(optimizer: torch.optim.Optimizer | None) -> str:
    """The family whose state the optimizer keeps: 'adam' for Adam and AdamW (the same state),
    else its class name in lower case ('sgd', 'rmsprop', …); 'sgd' for none."""
    if isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW):
        return "adam"
    return "sgd" if optimizer is None else type(optimizer).__name__.lower()
