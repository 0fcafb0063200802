"""Everything that drives a shop from outside: the harness that starts one, the traffic, the
SLO gate, the game days and the benchmarks (`python -m loadtest <verb>`)."""

from pathlib import Path

# The repository: configuration, runbooks and run directories are found from here.
ROOT = Path(__file__).resolve().parent.parent
