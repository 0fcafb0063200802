"""What every lock backend hands its holder, and the hook its metrics hang on."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Protocol

from ..domain.errors import LeaseLost

# The in-process backend's tokens: unique within the process, without a random draw per lease
# (uuid4 reads the OS's random source, a system call on every charge and order). The Redis
# backend brings its own random tokens.
_PROCESS = uuid.uuid4().hex[:16]
_SERIAL = itertools.count(1)


class LockReentry(RuntimeError):
    """The task asked again for a lock it already holds (it would wait on itself forever)."""


class Lease:
    """A held lock: key, the holder's token, a fence that strictly increases per key.

    `expires_at` (monotonic seconds, None = never) is the last expiry the backend confirmed;
    past it the lease counts as lost even before anyone says so, because another replica may
    already hold the key.
    """

    __slots__ = ("acquired_at", "expires_at", "fence", "key", "lost", "token")

    def __init__(
        self, key: str, fence: int, token: str | None = None, expires_at: float | None = None
    ) -> None:
        self.key = key
        self.fence = fence
        self.token = token or f"{_PROCESS}{next(_SERIAL):016x}"  # 32 hex digits, as uuid4().hex
        self.acquired_at = time.monotonic()
        self.expires_at = expires_at
        self.lost = asyncio.Event()

    def ensure_valid(self) -> None:
        """Raise LeaseLost once the lease expired or was taken over."""
        if self.lost.is_set() or (
            self.expires_at is not None and time.monotonic() >= self.expires_at
        ):
            raise LeaseLost(f"the lease on {self.key} was lost; nothing was written")


class LockObserver(Protocol):
    """Told what only a backend can see: a lease lapsing while it is held.

    Waits, holds and outcomes are measured around any backend by telemetry.locks.
    """

    def lease_lost(self, name: str, key: str) -> None: ...


class NullObserver:
    """The default: observes nothing."""

    def lease_lost(self, name: str, key: str) -> None:
        """Nothing to record."""
