"""Per-user token revocations (the `token_revocations` table), for auth.revocations."""

from __future__ import annotations

from datetime import UTC, datetime

from .pool import Database
from .times import to_db


class MySqlRevocations:
    """Implements auth.revocations.RevocationStore."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def revoke(self, user_id: str, *, not_before: int) -> None:
        # GREATEST: a late or repeated revocation never lets older tokens back in.
        async with self._db.session() as s:
            await s.execute(
                "token_revocations.revoke",
                "INSERT INTO token_revocations (user_id, not_before, revoked_at)"
                " VALUES (%s, %s, %s) ON DUPLICATE KEY UPDATE"
                " not_before = GREATEST(not_before, VALUES(not_before)),"
                " revoked_at = VALUES(revoked_at)",
                (user_id, not_before, to_db(datetime.now(UTC))),
            )

    async def since(self, cutoff: int) -> dict[str, int]:
        async with self._db.session() as s:
            rows = await s.fetch_all(
                "token_revocations.since",
                "SELECT user_id, not_before FROM token_revocations WHERE not_before > %s",
                (cutoff,),
            )
        return {str(user): int(moment) for user, moment in rows}
