"""Not in the catalogue: gradients clipped to 0.2 before each step."""

import torch


def train(model, loss_fn, optimizer, X_train, y_train, X_test, y_test, epochs):
    for epoch in range(epochs):
        model.train()
        loss = loss_fn(model(X_train), y_train)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), 0.2)
        optimizer.step()
