"""Exercise material: student copies with the hand derivations cut out, and their grader.

The grader (checks.py) imports only NumPy, torch and safetensors, never this project's
`manual` package, so it grades against autograd and central differences, not our solution.
"""
