"""The original's k6 path: the scripts (*.js) and their runner (run.py)."""
