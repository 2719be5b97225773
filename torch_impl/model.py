"""The course's two models, generalised from one feature to d."""

from __future__ import annotations

import torch
from torch import nn


class LinearRegressionModel(nn.Module):
    """The course's model_0: weights and bias as nn.Parameter, started with torch.randn."""

    def __init__(self, features: int = 1, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.randn(features, dtype=dtype), requires_grad=True)
        self.bias = nn.Parameter(torch.randn(1, dtype=dtype), requires_grad=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ŷ = X·w + b; for d = 1, bit for bit the course's `self.weights * x + self.bias`."""
        return x @ self.weights[:, None] + self.bias


class LinearRegressionModelV2(nn.Module):
    """The course's model_1: nn.Linear creates and initialises the parameters."""

    def __init__(self, features: int = 1, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.linear_layer = nn.Linear(in_features=features, out_features=1, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ŷ = x·Wᵀ + b through nn.Linear."""
        pred: torch.Tensor = self.linear_layer(x)
        return pred


MODELS: dict[str, type[nn.Module]] = {
    "parameter": LinearRegressionModel,
    "linear": LinearRegressionModelV2,
}


def weight_and_bias(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's weight as (d,) and bias as (1,), whichever of the two models it is."""
    if isinstance(model, LinearRegressionModelV2):
        return model.linear_layer.weight[0], model.linear_layer.bias
    if isinstance(model, LinearRegressionModel):
        return model.weights, model.bias
    raise TypeError(f"{type(model).__name__} is not one of the course's two models")
