"""Name the bug in a learner's own PyTorch training loop, by replaying it with the hand step.

learner.py runs the learner's train() in a sandboxed child and records its parameter path;
catalogue.py replays that path under each classic mistake; run.py decides and reports.
"""
