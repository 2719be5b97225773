"""Warning: the test loss is computed in train mode."""

import torch


def train(model, loss_fn, optimizer, X_train, y_train, X_test, y_test, epochs):
    for epoch in range(epochs):
        model.train()
        loss = loss_fn(model(X_train), y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.inference_mode():
            test_loss = loss_fn(model(X_test), y_test)
