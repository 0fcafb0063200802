"""Game days: incident drills with lab-speed rules, alerts, the runbook's fix and a report."""
