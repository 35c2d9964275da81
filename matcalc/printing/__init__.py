"""Printers, one per target: Unicode text, LaTeX, NumPy code."""
