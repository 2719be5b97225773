"""Not in the catalogue: trains on the first half of the training split only."""


def train(model, loss_fn, optimizer, X_train, y_train, X_test, y_test, epochs):
    for epoch in range(epochs):
        model.train()
        loss = loss_fn(model(X_train[:20]), y_train[:20])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
