"""Coupons and the copies issued to users."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pymysql

from ...domain.coupons import Coupon, DiscountType, UserCoupon, UserCouponStatus
from .session import Repository, cases, placeholders
from .times import from_db, to_db

_COUPON = (
    "c.coupon_id, c.name, c.discount_type, c.discount_value, c.min_order_amount,"
    " c.total_quantity, c.issued_quantity, c.expires_at"
)
_USER_COUPON = f"uc.user_coupon_id, uc.user_id, uc.status, uc.issued_at, uc.used_at, {_COUPON}"
DUPLICATE_KEY = 1062


def _coupon(row: Sequence[Any]) -> Coupon:
    return Coupon(
        coupon_id=row[0],
        name=row[1],
        discount_type=DiscountType(row[2]),
        discount_value=int(row[3]),
        min_order_amount=int(row[4]),
        total_quantity=int(row[5]),
        issued_quantity=int(row[6]),
        expires_at=from_db(row[7]),
    )


def _user_coupon(row: Sequence[Any], coupon: Coupon) -> UserCoupon:
    """A user-coupon row's first five columns, with its coupon."""
    return UserCoupon(
        user_coupon_id=int(row[0]),
        user_id=row[1],
        status=UserCouponStatus(row[2]),
        issued_at=from_db(row[3]),
        used_at=None if row[4] is None else from_db(row[4]),
        coupon=coupon,
    )


class CouponsRepository(Repository):
    __slots__ = ()

    async def create(self, coupon: Coupon, *, now: datetime) -> None:
        await self._s.execute(
            "coupons.insert",
            "INSERT INTO coupons (coupon_id, name, discount_type, discount_value,"
            " min_order_amount, total_quantity, issued_quantity, expires_at, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                coupon.coupon_id,
                coupon.name,
                coupon.discount_type.value,
                coupon.discount_value,
                coupon.min_order_amount,
                coupon.total_quantity,
                coupon.issued_quantity,
                to_db(coupon.expires_at),
                to_db(now),
            ),
        )

    async def get(self, coupon_id: str) -> Coupon | None:
        row = await self._s.fetch_one(
            "coupons.get", f"SELECT {_COUPON} FROM coupons c WHERE c.coupon_id = %s", (coupon_id,)
        )
        return None if row is None else _coupon(row)

    async def available(self, *, now: datetime) -> list[Coupon]:
        rows = await self._s.fetch_all(
            "coupons.available",
            f"SELECT {_COUPON} FROM coupons c WHERE c.expires_at > %s"
            " AND c.issued_quantity < c.total_quantity ORDER BY c.expires_at, c.coupon_id",
            (to_db(now),),
        )
        return [_coupon(r) for r in rows]

    async def lock(self, coupon_id: str) -> Coupon | None:
        """The coupon, its row locked: every batch of issues of one coupon queues here."""
        row = await self._s.fetch_one(
            "coupons.lock",
            f"SELECT {_COUPON} FROM coupons c WHERE c.coupon_id = %s FOR UPDATE",
            (coupon_id,),
        )
        return None if row is None else _coupon(row)

    async def claimants(self, coupon_id: str, user_ids: Sequence[str]) -> tuple[set[str], set[str]]:
        """Of `user_ids`: those that exist, and those already holding the coupon."""
        marks = ", ".join(["%s"] * len(user_ids))
        rows = await self._s.fetch_all(
            "user_coupons.claimants",
            "SELECT u.user_id, uc.user_coupon_id FROM users u LEFT JOIN user_coupons uc"
            " ON uc.coupon_id = %s AND uc.user_id = u.user_id"
            f" WHERE u.user_id IN ({marks})",
            (coupon_id, *user_ids),
        )
        return {r[0] for r in rows}, {r[0] for r in rows if r[1] is not None}

    async def grant_many(
        self, coupon_id: str, user_ids: Sequence[str], *, now: datetime
    ) -> dict[str, int] | None:
        """Give each user the coupon in one statement; None when any already has it."""
        issued_at = to_db(now)
        try:
            # Placeholders only: aiomysql folds the rows into one multi-row INSERT only then
            # (a literal in VALUES makes it send one statement per row).
            await self._s.execute_many(
                "user_coupons.insert_many",
                "INSERT INTO user_coupons (coupon_id, user_id, status, issued_at)"
                " VALUES (%s, %s, %s, %s)",
                [(coupon_id, user_id, "AVAILABLE", issued_at) for user_id in user_ids],
            )
        except pymysql.err.IntegrityError as exc:
            if exc.args and exc.args[0] == DUPLICATE_KEY:
                return None
            raise
        # Read back rather than count on consecutive auto-increment ids (lock mode 2 and
        # auto_increment_increment > 1 interleave them).
        marks = ", ".join(["%s"] * len(user_ids))
        rows = await self._s.fetch_all(
            "user_coupons.ids",
            "SELECT user_id, user_coupon_id FROM user_coupons"
            f" WHERE coupon_id = %s AND user_id IN ({marks})",
            (coupon_id, *user_ids),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def take(self, coupon_id: str, count: int, *, now: datetime) -> bool:
        """Count `count` more issues unless that would pass the total or the coupon expired."""
        changed = await self._s.execute(
            "coupons.take",
            "UPDATE coupons SET issued_quantity = issued_quantity + %s WHERE coupon_id = %s"
            " AND issued_quantity + %s <= total_quantity AND expires_at > %s",
            (count, coupon_id, count, to_db(now)),
        )
        return changed == 1

    async def of_user(self, user_id: str) -> list[UserCoupon]:
        rows = await self._s.fetch_all(
            "user_coupons.by_user",
            f"SELECT {_USER_COUPON} FROM user_coupons uc"
            " JOIN coupons c ON c.coupon_id = uc.coupon_id"
            " WHERE uc.user_id = %s ORDER BY uc.user_coupon_id DESC",
            (user_id,),
        )
        return [_user_coupon(r, _coupon(r[5:])) for r in rows]

    async def lock_user_coupons(
        self, wanted: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], UserCoupon]:
        users = sorted({user for user, _ in wanted})
        coupon_ids = sorted({coupon for _, coupon in wanted})
        # Only the users' copies are locked (a range of the unique key, in its order): the
        # coupon row is hot under issuance, and the fields an order reads from it (expiry,
        # minimum, discount) never change after creation. The cross product may lock a
        # copy no order asked for; it belongs to a user whose order holds the lock anyway.
        rows = await self._s.fetch_all(
            "user_coupons.lock",
            "SELECT user_coupon_id, user_id, status, issued_at, used_at, coupon_id"
            f" FROM user_coupons WHERE coupon_id IN ({placeholders(len(coupon_ids))})"
            f" AND user_id IN ({placeholders(len(users))})"
            " ORDER BY coupon_id, user_id FOR UPDATE",
            [*coupon_ids, *users],
        )
        if not rows:
            return {}
        found = {r[5] for r in rows}
        coupons = await self._s.fetch_all(
            "coupons.get_many",
            f"SELECT {_COUPON} FROM coupons c WHERE c.coupon_id IN ({placeholders(len(found))})",
            sorted(found),
        )
        by_id = {c.coupon_id: c for c in map(_coupon, coupons)}
        asked = set(wanted)
        return {
            (r[1], r[5]): _user_coupon(r, by_id[r[5]])
            for r in rows
            if (r[1], r[5]) in asked and r[5] in by_id
        }

    async def gate_snapshot(self, coupon_id: str) -> tuple[int, list[str]] | None:
        """Units left and every user holding the coupon, to rebuild the Redis gate from."""
        coupon = await self.get(coupon_id)
        if coupon is None:
            return None
        rows = await self._s.fetch_all(
            "user_coupons.holders",
            "SELECT user_id FROM user_coupons WHERE coupon_id = %s",
            (coupon_id,),
        )
        return coupon.remaining_quantity, [r[0] for r in rows]

    async def holders_among(self, coupon_id: str, user_ids: Sequence[str]) -> set[str]:
        """Which of `user_ids` hold the coupon (committed rows only)."""
        if not user_ids:
            return set()
        marks = ", ".join(["%s"] * len(user_ids))
        rows = await self._s.fetch_all(
            "user_coupons.holders_among",
            f"SELECT user_id FROM user_coupons WHERE coupon_id = %s AND user_id IN ({marks})",
            (coupon_id, *user_ids),
        )
        return {r[0] for r in rows}

    async def mark_used_many(self, orders: Mapping[int, int], *, now: datetime) -> bool:
        ids = sorted(orders)
        case, per_id = cases(ids, orders, column="user_coupon_id")
        changed = await self._s.execute(
            "user_coupons.use",
            f"UPDATE user_coupons SET status = 'USED', used_at = %s, order_id = ({case})"
            f" WHERE user_coupon_id IN ({placeholders(len(ids))}) AND status = 'AVAILABLE'",
            [to_db(now), *per_id, *ids],
        )
        return changed == len(ids)
