"""Per-key locking: the lease every backend hands out and the in-process backend.

The Redis backend, for several replicas, is an adapter: `shop.adapters.redis.locks`.
"""
