"""Redis adapters: the lock backend for several replicas, the coupon gate, shared switch values."""
