"""A correct loop written another way: zero_grad after step, test loss under no_grad."""

import torch


def train(model, loss_fn, optimizer, X_train, y_train, X_test, y_test, epochs):
    for epoch in range(epochs):
        model.train()
        loss = loss_fn(model(X_train), y_train)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        model.eval()
        with torch.no_grad():
            test_loss = loss_fn(model(X_test), y_test)
