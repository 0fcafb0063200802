"""The HTTP floor of a balance charge: a bare aiohttp handler running the raw transaction.

No shop code between the socket and the database: no middleware, lock, telemetry, typed
decoding or problem mapping; the same aiohttp, uvloop, driver, pool size and two packets as
the shop. `ceiling.py` serves charges with it to show what HTTP alone costs on this
machine, i.e. how near the endpoint can get to the raw ceiling at all.

Usage: SHOP_DB_URL=... SHOP_PORT=... python -m loadtest.bench.floor
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiomysql
import msgspec
import uvloop
from aiohttp import web

from loadtest.bench.ceiling import POOL, charge_packets
from shop.adapters.mysql.pool import parse_db_url

POOL_KEY = web.AppKey("pool", aiomysql.Pool)


async def charge(request: web.Request) -> web.Response:
    user = request.match_info["userId"]
    amount = msgspec.json.decode(await request.read())["amount"]
    now = datetime.now(UTC)
    async with request.app[POOL_KEY].acquire() as conn, conn.cursor() as cur:
        balance = await charge_packets(cur, user, now.replace(tzinfo=None))
    receipt = {
        "userId": user,
        "previousBalance": balance - amount,
        "chargedAmount": amount,
        "currentBalance": balance,
        "chargedAt": now.isoformat(),
    }
    return web.Response(body=msgspec.json.encode(receipt), content_type="application/json")


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def pool(app: web.Application) -> AsyncIterator[None]:
    target = parse_db_url(os.environ["SHOP_DB_URL"])
    app[POOL_KEY] = await aiomysql.create_pool(
        **target.connect_args(),
        db=target.database,
        minsize=POOL,
        maxsize=POOL,
        init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
    )
    yield
    app[POOL_KEY].close()
    await app[POOL_KEY].wait_closed()


def main() -> None:
    app = web.Application()
    app.cleanup_ctx.append(pool)
    app.router.add_post("/api/users/{userId}/balance/charge", charge)
    app.router.add_get("/readyz", ready)
    web.run_app(
        app,
        host="127.0.0.1",
        port=int(os.environ["SHOP_PORT"]),
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
