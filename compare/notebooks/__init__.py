"""A learner's notebook or script, as written: its cells, a recording of its run, a verdict."""
