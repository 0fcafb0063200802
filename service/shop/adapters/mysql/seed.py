"""The load-test data set: users, one coupon, ten products and a cart per user. Idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tqdm import tqdm

from ...use_cases.ports import SeedReport
from .pool import Database
from .session import Session
from .times import to_db

SEED_BALANCE = 1_000_000
PRODUCT_COUNT = 10
PRODUCT_PRICE = 10_000
COUPON_ID = "test-coupon-1"
COUPON_DISCOUNT = 1_000
CATEGORIES = ("ELECTRONICS", "BOOKS", "FASHION", "FOOD", "HOME")
# 2,000 rows per statement keeps each INSERT well under max_allowed_packet and the seed fast.
BATCH = 2_000


async def _seed_catalogue(s: Session, *, stock: int, coupon_quantity: int, now: datetime) -> None:
    created = to_db(now)
    await s.execute_many(
        "seed.products",
        "INSERT IGNORE INTO products (product_id, name, price, stock, category, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        [
            (
                f"test-product-{n}",
                f"Test product {n}",
                PRODUCT_PRICE,
                stock,
                CATEGORIES[(n - 1) % len(CATEGORIES)],
                # Distinct creation times give "newest" a stable, meaningful order.
                created - timedelta(minutes=PRODUCT_COUNT - n),
            )
            for n in range(1, PRODUCT_COUNT + 1)
        ],
    )
    await s.execute(
        "seed.coupon",
        "INSERT IGNORE INTO coupons (coupon_id, name, discount_type, discount_value,"
        " min_order_amount, total_quantity, issued_quantity, expires_at, created_at)"
        " VALUES (%s, %s, 'FIXED', %s, 0, %s, 0, %s, %s)",
        (
            COUPON_ID,
            "Load-test coupon",
            COUPON_DISCOUNT,
            coupon_quantity,
            to_db(now + timedelta(days=365)),
            created,
        ),
    )


async def _seed_users(s: Session, first: int, last: int, now: datetime) -> None:
    created = to_db(now)
    ids = [f"test-user-{n}" for n in range(first, last + 1)]
    await s.execute_many(
        "seed.users",
        "INSERT IGNORE INTO users (user_id, name, balance, created_at) VALUES (%s, %s, %s, %s)",
        [(uid, f"Test user {uid.rsplit('-', 1)[1]}", SEED_BALANCE, created) for uid in ids],
    )
    await s.execute_many(
        "seed.carts",
        "INSERT IGNORE INTO carts (user_id, created_at) VALUES (%s, %s)",
        [(uid, created) for uid in ids],
    )
    placeholders = ", ".join(["%s"] * len(ids))
    await s.execute(
        "seed.cart_items",
        "INSERT IGNORE INTO cart_items (cart_id, product_id, quantity, created_at)"
        f" SELECT cart_id, 'test-product-1', 1, %s FROM carts WHERE user_id IN ({placeholders})",
        (created, *ids),
    )


async def seed_dataset(
    database: Database,
    *,
    users: int,
    stock: int,
    coupon_quantity: int,
    progress: bool = False,
) -> SeedReport:
    """Write what is missing of the data set; rows that exist are left as they are."""
    started = datetime.now(UTC)
    async with database.session() as s:
        await _seed_catalogue(s, stock=stock, coupon_quantity=coupon_quantity, now=started)
        with tqdm(total=users, unit="user", desc="seeding", disable=not progress) as bar:
            for first in range(1, users + 1, BATCH):
                last = min(first + BATCH - 1, users)
                s.begin()
                await _seed_users(s, first, last, started)
                await s.commit()
                bar.update(last - first + 1)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    return SeedReport(
        users=users, products=PRODUCT_COUNT, coupon_quantity=coupon_quantity, seconds=elapsed
    )


async def is_empty(database: Database) -> bool:
    """True while no user exists (make run seeds only then)."""
    async with database.session() as s:
        return await s.fetch_one("seed.any_user", "SELECT 1 FROM users LIMIT 1") is None


class MySqlDataSet:
    """The DataSet port over the pool."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def seed(self, *, users: int, stock: int, coupon_quantity: int) -> SeedReport:
        """Write what is missing of the data set."""
        return await seed_dataset(
            self._database, users=users, stock=stock, coupon_quantity=coupon_quantity
        )
