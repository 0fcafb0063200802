"""Traffic: locust users, scenarios and load profiles, the Shop tab, and the load-test run."""
