"""What to try after a run diverged: a smaller lr, with the stable limit where one is known."""

from __future__ import annotations

import argparse

from compare.cli.edges import config_from


def diverged_advice(e: ArithmeticError, args: argparse.Namespace) -> str:
    """What to try after a diverged run: a smaller lr, with the stable limit when it is known.

    For MSE and SGD the limit is exact (closed_form.mse_stable_lr); other losses and Adam
    have none so simple, so only the lr that was used is named.
    """
    lr = getattr(args, "lr", None)
    config = config_from(args) if lr is not None else None
    if config is not None and config.loss == "mse" and config.optimizer == "sgd":
        from compare.closed_form import mse_stable_lr
        from compare.experiment import make_data

        X = make_data(config).X_train
        if config.batch_size is None and not config.nesterov and config.weight_decay == 0:
            limit = mse_stable_lr(X, config.momentum)
            if config.lr <= limit:
                return f"it stays below the stable limit {limit:.4g}, so look beyond --lr"
            return (
                f"--lr {lr:g} is above the stable limit {limit:.4g} = 2(1 + μ)/λ_max of the MSE "
                f"Hessian for this data; use a smaller --lr, below {limit:.4g}"
            )
    return f"try a smaller --lr (this run used {lr})"
