"""Drivers behind the ports: MySQL (source of truth) and Redis."""
