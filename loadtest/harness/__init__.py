"""The harness every tool that drives a shop stands on: processes, ports, databases, admin calls
and the local monitoring stack."""
