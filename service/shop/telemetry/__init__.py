"""Metrics, traces and logs: every telemetry name is defined here once."""
