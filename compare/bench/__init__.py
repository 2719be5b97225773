"""Benchmarks: time one training step of every implementation against a measured memory floor.

config.py says what to time (and imports no torch); run.py times it; report.py prints it.
"""
