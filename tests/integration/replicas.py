"""The harness's shop replicas (loadtest/harness/shop.py) on this test run's Redis, with its
admin token, and the carts the tests fill through them."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path

import aiohttp

from loadtest.harness.shop import RUNNING
from loadtest.harness.shop import replicas as _replicas

from ..conftest import ADMIN_TOKEN, REDIS_URL

__all__ = ["RUNNING", "fill_carts", "replicas"]


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


async def fill_carts(
    http: aiohttp.ClientSession, url: str, users: Iterable[str], product: str, quantity: int
) -> None:
    """`quantity` of `product` added to each user's cart over HTTP at `url`, each answered 200."""
    for user in users:
        async with http.post(
            f"{url}/api/cart/items",
            json={"userId": user, "productId": product, "quantity": quantity},
        ) as r:
            assert r.status == 200
