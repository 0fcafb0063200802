"""Runtime incident switches that reproduce the original's failures on demand."""
