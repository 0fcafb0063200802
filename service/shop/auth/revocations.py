"""Per-user revocation: every token of a user issued before a moment is refused.

The moments live in MySQL (`token_revocations`, the one store every deployment has, Redis or
not); each process keeps a copy in memory, read again every few seconds, so the token check
stays free of round trips. A revocation reaches every replica within that interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol


class RevocationStore(Protocol):
    async def revoke(self, user_id: str, *, not_before: int) -> None:
        """Refuse the user's tokens issued before `not_before` (unix seconds)."""

    async def since(self, cutoff: int) -> dict[str, int]:
        """Each user's not-before moment later than `cutoff`."""


class Revocations:
    """The process's copy of the not-before moments."""

    def __init__(self) -> None:
        self._not_before: dict[str, int] = {}

    def revoked(self, user_id: str, issued_at: int) -> bool:
        return issued_at < self._not_before.get(user_id, 0)

    def replace(self, not_before: dict[str, int]) -> None:
        self._not_before = not_before

    async def load(self, store: RevocationStore, *, now: float, max_ttl: int) -> None:
        """Read the moments that can still matter: older ones only refuse expired tokens."""
        self.replace(await store.since(int(now) - max_ttl))

    async def refresh_forever(
        self,
        store: RevocationStore,
        *,
        clock: Callable[[], float],
        max_ttl: int,
        interval: float,
        on_error: Callable[[Exception], None],
    ) -> None:
        """Reload every `interval` seconds; a failed read keeps the last copy (fail static)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.load(store, now=clock(), max_ttl=max_ttl)
            except Exception as exc:  # any failure: keep serving with the last copy
                on_error(exc)
