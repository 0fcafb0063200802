"""Load tests: locust scenarios, shapes, the Shop tab, the SLO gate, the audit and reports."""
