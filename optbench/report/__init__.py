"""Reporters: they read saved results (:func:`optbench.results.load`), never a live run."""
