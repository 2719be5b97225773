"""Mistake: the model is fitted to the test split."""


def train(model, loss_fn, optimizer, X_train, y_train, X_test, y_test, epochs):
    for epoch in range(epochs):
        model.train()
        loss = loss_fn(model(X_test), y_test)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
