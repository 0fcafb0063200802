"""The SLO gate with its thresholds, the run reports and the before/after comparison."""
