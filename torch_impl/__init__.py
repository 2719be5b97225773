"""Linear regression the way PyTorch users write it: nn.Module, torch losses, backward(), optim.

Read it in this order: data -> model -> losses -> gradients -> optim -> train.
Each file has a twin in ``manual/`` where the same job is done by hand in NumPy.
"""
