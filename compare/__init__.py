"""Runs the hand-derived and the autograd implementations side by side and proves they agree.

This is the only package that imports both ``manual`` and ``torch_impl``.
"""
