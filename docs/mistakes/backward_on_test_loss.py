"""Mistake: backward() on the test loss."""


def train(model, loss_fn, optimizer, X_train, y_train, X_test, y_test, epochs):
    for epoch in range(epochs):
        model.train()
        loss = loss_fn(model(X_train), y_train)
        model.eval()
        test_loss = loss_fn(model(X_test), y_test)
        optimizer.zero_grad()
        test_loss.backward()
        optimizer.step()
