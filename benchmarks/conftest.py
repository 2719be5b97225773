"""Benchmarks: `pytest benchmarks/ --benchmark-only`. The regular test run never collects them."""

import torch

torch.set_num_threads(max(1, torch.get_num_threads()))
