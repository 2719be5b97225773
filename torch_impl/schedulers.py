"""Learning-rate schedulers: torch.optim.lr_scheduler's, by class name in lower case.

Each rewrites optimizer.param_groups[i]["lr"] when the loop calls scheduler.step() after an
epoch (ReduceLROnPlateau: scheduler.step(test_loss)). manual/schedulers.py writes the same
lr of every epoch in closed form.
"""

from __future__ import annotations

from torch.optim import lr_scheduler

SCHEDULERS: dict[str, type] = {
    "steplr": lr_scheduler.StepLR,  # ×γ every step_size epochs
    "multisteplr": lr_scheduler.MultiStepLR,  # ×γ at each milestone
    "exponentiallr": lr_scheduler.ExponentialLR,  # ×γ every epoch
    "cosineannealinglr": lr_scheduler.CosineAnnealingLR,  # half a cosine, down to eta_min
    "cosineannealingwarmrestarts": lr_scheduler.CosineAnnealingWarmRestarts,  # …, and again
    "linearlr": lr_scheduler.LinearLR,  # a straight line from start_factor to end_factor
    "polynomiallr": lr_scheduler.PolynomialLR,  # (1 - e/T)^power, down to 0
    "reducelronplateau": lr_scheduler.ReduceLROnPlateau,  # ×factor when the test loss stalls
}
