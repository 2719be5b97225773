"""Checkpoints across the two sides: the torch side's files, .pth converted for manual, safety.

torch_files.py writes and reads the torch side's files; convert.py moves them between the two
sides' types; safety.py checks every file from elsewhere first. compare/one_side.py trains one
side alone, resuming from and saving to these files.
"""
