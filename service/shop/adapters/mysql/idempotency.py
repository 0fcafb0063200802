"""Idempotency keys: claims, answers sealed inside the effect's transaction, expiry."""

from __future__ import annotations

from datetime import datetime

from ...domain.idempotency import KeyRecord, Outcome
from .session import Repository
from .times import from_db, to_db

_WHERE = "WHERE user_id = %s AND idem_key = %s AND claim_token = %s"


class IdempotencyRepository(Repository):
    __slots__ = ()

    async def claim(
        self, user_id: str, key: str, *, fingerprint: bytes, token: str, now: datetime
    ) -> bool:
        # INSERT IGNORE waits on a row another transaction is sealing and then sees it as a
        # duplicate: a claim never slips in between an effect and its answer.
        changed = await self._s.execute(
            "idempotency_keys.claim",
            "INSERT IGNORE INTO idempotency_keys (user_id, idem_key, fingerprint, claim_token,"
            " claimed_at, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (user_id, key, fingerprint.hex(), token, to_db(now), to_db(now)),
        )
        return changed == 1

    async def get(self, user_id: str, key: str) -> KeyRecord | None:
        row = await self._s.fetch_one(
            "idempotency_keys.get",
            "SELECT fingerprint, claim_token, claimed_at, created_at, refused, outcome,"
            " completed_at FROM idempotency_keys WHERE user_id = %s AND idem_key = %s",
            (user_id, key),
        )
        if row is None:
            return None
        return KeyRecord(
            fingerprint=bytes.fromhex(row[0]),
            claim_token=row[1],
            claimed_at=from_db(row[2]),
            created_at=from_db(row[3]),
            outcome=None
            if row[4] is None
            else Outcome(refused=bool(row[4]), body=row[5].encode(), at=from_db(row[6])),
        )

    async def take_over(
        self,
        user_id: str,
        key: str,
        *,
        old_token: str,
        fingerprint: bytes,
        token: str,
        now: datetime,
        renew: bool,
    ) -> bool:
        if renew:  # an expired key starts again as a new request
            sql = (
                "UPDATE idempotency_keys SET fingerprint = %s, claim_token = %s, claimed_at = %s,"
                " created_at = %s, refused = NULL, outcome = NULL, completed_at = NULL " + _WHERE
            )
            params: tuple[object, ...] = (fingerprint.hex(), token, to_db(now), to_db(now))
        else:  # only an unanswered claim can be taken over
            sql = (
                "UPDATE idempotency_keys SET claim_token = %s, claimed_at = %s "
                + _WHERE
                + " AND refused IS NULL"
            )
            params = (token, to_db(now))
        changed = await self._s.execute(
            "idempotency_keys.take_over", sql, (*params, user_id, key, old_token)
        )
        return changed == 1

    async def seal(self, user_id: str, key: str, *, token: str, outcome: Outcome) -> bool:
        changed = await self._s.execute(
            "idempotency_keys.seal",
            "UPDATE idempotency_keys SET refused = %s, outcome = %s, completed_at = %s "
            + _WHERE
            + " AND refused IS NULL",
            (outcome.refused, outcome.body.decode(), to_db(outcome.at), user_id, key, token),
        )
        return changed == 1

    async def release(self, user_id: str, key: str, *, token: str) -> None:
        # A sealed row is never released: if the effect did commit, its answer stays.
        await self._s.execute(
            "idempotency_keys.release",
            "DELETE FROM idempotency_keys " + _WHERE + " AND refused IS NULL",
            (user_id, key, token),
        )

    async def purge(self, *, before: datetime, limit: int) -> int:
        return await self._s.execute(
            "idempotency_keys.purge",
            "DELETE FROM idempotency_keys WHERE created_at < %s LIMIT %s",
            (to_db(before), limit),
        )
