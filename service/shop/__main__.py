"""Command line: `python -m shop serve|migrate|seed|token|revoke`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

import uvloop

from .adapters.mysql.migrations import migrate
from .adapters.mysql.pool import Database
from .adapters.mysql.revocations import MySqlRevocations
from .adapters.mysql.seed import is_empty, seed_dataset
from .api.framework import server
from .app import create_app
from .auth.keyring import Keyring
from .auth.tokens import MAX_USER_ID_LENGTH
from .domain.errors import ShopError
from .settings import Settings, SettingsError

# Set in the environment of the extra worker processes `serve` starts (they start none): the
# worker's index, 1 to SHOP_WORKERS - 1 (the first process is worker 0).
WORKER = "SHOP_WORKER_OF"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the HTTP API (SHOP_HOST:SHOP_PORT)")
    commands.add_parser("migrate", help="create the database and apply schema migrations")
    seed = commands.add_parser("seed", help="write the load-test data set (idempotent)")
    seed.add_argument("--users", type=int, default=100_000)
    seed.add_argument("--stock", type=int, default=1_000_000)
    seed.add_argument("--coupon-quantity", type=int, default=100_000)
    seed.add_argument("--if-empty", action="store_true", help="only when no user exists yet")
    token = commands.add_parser(
        "token", help="print a user bearer token signed with SHOP_AUTH_SECRET"
    )
    token.add_argument("user_id", metavar="USER_ID")
    token.add_argument("--ttl", type=int, help="seconds it is valid (default SHOP_TOKEN_TTL)")
    revoke = commands.add_parser(
        "revoke", help="refuse every token of a user issued until now (on every replica)"
    )
    revoke.add_argument("user_id", metavar="USER_ID")
    return parser


async def _migrate(settings: Settings) -> None:
    applied = await migrate(settings.db_url)
    print(f"migrations applied: {', '.join(applied) or 'none (schema up to date)'}")


async def _seed(settings: Settings, args: argparse.Namespace) -> None:
    database = await Database.connect(settings.db_url, maxsize=2)
    try:
        if args.if_empty and not await is_empty(database):
            print("seed skipped: the database already holds users")
            return
        report = await seed_dataset(
            database,
            users=args.users,
            stock=args.stock,
            coupon_quantity=args.coupon_quantity,
            progress=True,
        )
        print(f"seeded {report.users} users, {report.products} products in {report.seconds:.1f}s")
    finally:
        await database.close()


def _token(settings: Settings, user_id: str, ttl: int | None) -> str:
    if not 0 < len(user_id) <= MAX_USER_ID_LENGTH:
        raise SettingsError(f"USER_ID must have 1 to {MAX_USER_ID_LENGTH} characters")
    lifetime = settings.token_ttl if ttl is None else ttl
    try:
        token, _ = Keyring.from_settings(settings).mint(user_id, ttl=lifetime, now=time.time())
    except ShopError as exc:
        raise SettingsError(f"--ttl: {exc.message}") from None
    return token


async def _revoke(settings: Settings, user_id: str) -> None:
    # The next whole second: a token minted earlier in the current second is refused too.
    not_before = int(time.time()) + 1
    database = await Database.connect(settings.db_url, maxsize=1)
    try:
        await MySqlRevocations(database).revoke(user_id, not_before=not_before)
    finally:
        await database.close()
    print(
        f"tokens of {user_id} issued before {not_before} are refused"
        f" (every replica within {settings.token_revocation_refresh:g}s)"
    )


def _serve(settings: Settings) -> None:
    # Several workers: this process serves too and starts the others on the same port, with
    # SO_REUSEPORT so that the kernel spreads connections; they stop when it does.
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "shop", "serve"], env={**os.environ, WORKER: str(index)}
        )
        for index in range(1, settings.workers)
    ]
    # uvloop: measured in docs/benchmarks/runtime.md.
    loop = uvloop.new_event_loop() if settings.event_loop == "uvloop" else asyncio.new_event_loop()
    try:
        server.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            loop=loop,
            shutdown_timeout=settings.shutdown_timeout,
            header_timeout=settings.client_timeout,
            reuse_port=settings.workers > 1 or WORKER in os.environ,
            admin_port=settings.admin_port,
        )
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=settings.shutdown_timeout + 5)
            except subprocess.TimeoutExpired:
                worker.kill()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; exit code 2 for bad configuration, 1 when the database is unreachable."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if WORKER in os.environ:
            port = settings.metrics_port and settings.metrics_port + int(os.environ[WORKER])
            settings = replace(settings, workers=1, metrics_port=port)
        if args.command == "serve":
            _serve(settings)
        elif args.command == "token":
            print(_token(settings, args.user_id, args.ttl))
        elif args.command == "revoke":
            asyncio.run(_revoke(settings, args.user_id))
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
        else:
            asyncio.run(_seed(settings, args))
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except ShopError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
