"""Redis adapters: the coupon gate (and the lock backend lives in shop.locks.redis)."""
