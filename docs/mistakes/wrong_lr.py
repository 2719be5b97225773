"""Mistake: another learning rate than the chapter's 0.01."""

import torch
from torch import nn


class LinearRegressionModel(nn.Module):
    """The chapter's model_0."""

    def __init__(self) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.randn(1, requires_grad=True))
        self.bias = nn.Parameter(torch.randn(1, requires_grad=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weights * x + self.bias


def build():
    torch.manual_seed(42)
    model = LinearRegressionModel()
    return model, nn.L1Loss(), torch.optim.SGD(params=model.parameters(), lr=0.1)


def train(model, loss_fn, optimizer, X_train, y_train, X_test, y_test, epochs):
    for epoch in range(epochs):
        model.train()
        y_pred = model(X_train)
        loss = loss_fn(y_pred, y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        model.eval()
        with torch.inference_mode():
            test_loss = loss_fn(model(X_test), y_test)
