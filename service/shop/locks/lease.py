"""What every lock backend hands its holder, and the hook its metrics hang on."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Protocol

from ..domain.errors import LeaseLost


class LockReentry(RuntimeError):
    """The task asked again for a lock it already holds (it would wait on itself forever)."""


class Lease:
    """A held lock: key, the holder's token, a fence that strictly increases per key."""

    __slots__ = ("acquired_at", "fence", "key", "lost", "token")

    def __init__(self, key: str, fence: int, token: str | None = None) -> None:
        self.key = key
        self.fence = fence
        self.token = token or uuid.uuid4().hex
        self.acquired_at = time.monotonic()
        self.lost = asyncio.Event()

    def ensure_valid(self) -> None:
        """Raise LeaseLost once the lease expired or was taken over."""
        if self.lost.is_set():
            raise LeaseLost(f"the lease on {self.key} was lost; nothing was written")


class LockObserver(Protocol):
    """Told about every outcome; the metrics module implements it."""

    def acquired(self, name: str, waited: float) -> None: ...
    def timed_out(self, name: str, waited: float) -> None: ...
    def cancelled(self, name: str, waited: float) -> None: ...
    def released(self, name: str, held: float) -> None: ...
    def lease_lost(self, name: str) -> None: ...


class NullObserver:
    """The default: observes nothing."""

    def acquired(self, name: str, waited: float) -> None:
        """Nothing to record."""

    def timed_out(self, name: str, waited: float) -> None:
        """Nothing to record."""

    def cancelled(self, name: str, waited: float) -> None:
        """Nothing to record."""

    def released(self, name: str, held: float) -> None:
        """Nothing to record."""

    def lease_lost(self, name: str) -> None:
        """Nothing to record."""
