"""Per-key lock managers: in-process (one process) and Redis (several replicas)."""
