"""Linear regression with every gradient derived by hand, in NumPy only.

Read it in this order: data -> model -> losses -> gradients -> optim -> train.
Each file has a twin in ``torch_impl/`` where PyTorch's autograd does the same job.
"""
