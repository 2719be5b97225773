"""Not in the catalogue: the learning rate halves after epoch 50."""

import torch


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
        if epoch == 50:
            for group in optimizer.param_groups:
                group["lr"] /= 2
