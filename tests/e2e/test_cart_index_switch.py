"""The cart_index incident switch drops and recreates cart_items(cart_id) at runtime, on every
replica, and the cart keeps working (slowly) without it. On a private database: the other
tests' database keeps its index whatever happens here."""

from __future__ import annotations

import asyncio
import time

import pymysql

from shop.adapters.mysql.indexes import CART_INDEX
from shop.adapters.mysql.migrations import migrate
from shop.adapters.mysql.pool import parse_db_url
from shop.settings import Settings

from ..conftest import TEST_DB_URL
from .conftest import two_replicas

DB_URL = f"{TEST_DB_URL}_cart_index"


def _query(sql: str, *args: object) -> list[tuple[object, ...]]:
    t = parse_db_url(DB_URL)
    conn = pymysql.connect(
        host=t.host, port=t.port, user=t.user, password=t.password, database=t.database
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    finally:
        conn.close()


def _has_index() -> bool:
    return bool(_query("SHOW INDEX FROM cart_items WHERE Key_name = %s", CART_INDEX))


def _cart_read_plan() -> str:
    [row] = _query("EXPLAIN SELECT cart_item_id, quantity FROM cart_items WHERE cart_id = 1")
    return str(row[3])  # the access type: ref with the index, ALL without


async def test_cart_index_switch_drops_and_recreates_on_every_replica(
    aiohttp_client, settings: Settings, admin_headers
) -> None:
    await migrate(DB_URL)
    one, two = await two_replicas(aiohttp_client, settings, db_url=DB_URL)
    url = "/api/admin/incidents/cart_index"
    seeded = await one.post("/api/admin/seed", json={"users": 3}, headers=admin_headers)
    assert seeded.status == 200, await seeded.text()
    assert _has_index()
    try:
        off = await one.put(url, json={"value": "off"}, headers=admin_headers)
        assert off.status == 200, await off.text()
        assert (await off.json())["on"] is True
        assert not _has_index()
        assert _cart_read_plan() == "ALL"  # the original's full scan
        # The other replica follows (finding the index already gone is not an error).
        deadline = time.monotonic() + 2.0
        while True:
            listed = await (await two.get("/api/admin/incidents", headers=admin_headers)).json()
            if {s["switch"]: s["value"] for s in listed}["cart_index"] == "off":
                break
            assert time.monotonic() < deadline, "the other replica did not follow"
            await asyncio.sleep(0.05)
        cart = await two.get("/api/cart", params={"userId": "test-user-2"})
        assert cart.status == 200  # slower, never broken
        assert (await cart.json())["items"][0]["productId"] == "test-product-1"
        metrics = await (await two.get("/metrics")).text()
        assert 'shop_incident_switch{switch="cart_index",value="off"} 1.0' in metrics
        bad = await one.put(url, json={"value": "maybe"}, headers=admin_headers)
        assert bad.status == 400
    finally:
        back = await two.put(url, json={"value": "on"}, headers=admin_headers)
    assert back.status == 200
    assert _has_index()
    assert _cart_read_plan() == "ref"
