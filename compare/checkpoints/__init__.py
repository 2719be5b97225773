"""Checkpoints across the two sides: .pth converted for manual, one implementation trained alone.

convert.py moves files between the two sides' types; single.py trains, resumes and predicts.
"""
