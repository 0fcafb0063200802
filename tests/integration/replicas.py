"""The harness's shop replicas (loadtest/harness/shop.py) on this test run's Redis, with its
admin token."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from loadtest.harness.shop import RUNNING
from loadtest.harness.shop import replicas as _replicas

from ..conftest import ADMIN_TOKEN, REDIS_URL

__all__ = ["RUNNING", "replicas"]


def replicas(
    count: int,
    *,
    db_url: str,
    redis_prefix: str,
    log_dir: Path,
    allowed_5xx: frozenset[str] = frozenset(),
    **env: str,
) -> AbstractContextManager[list[str]]:
    """`count` shop processes sharing `db_url` and this run's Redis under `redis_prefix`."""
    settings = {
        "SHOP_REDIS_URL": REDIS_URL,
        "SHOP_REDIS_PREFIX": redis_prefix,
        "SHOP_ADMIN_TOKEN": ADMIN_TOKEN,
        **env,
    }
    return _replicas(count, db_url=db_url, log_dir=log_dir, allowed_5xx=allowed_5xx, **settings)
