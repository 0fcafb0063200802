"""Per-client request limits: the generic cell rate algorithm (GCRA), and its in-process store.

A policy allows `rate` requests a second on average and `burst` at once. GCRA keeps one number
per client, the theoretical arrival time (TAT) of its next request: each admitted request pushes
it `1/rate` seconds further, and a request is refused while the TAT lies more than `burst/rate`
seconds ahead. It is a token bucket in one float, so one Redis round trip can decide it
(`adapters/redis/rate_limits.py` runs the same arithmetic in Lua).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Protocol

# The two kinds of client, each with a policy: a user (user routes), or an address (the rest).
USER, ADDRESS = "user", "address"


@dataclass(frozen=True, slots=True)
class Policy:
    """`rate` requests a second on average, `burst` at once, for each client of one kind."""

    name: str
    rate: float
    burst: int

    @property
    def interval(self) -> float:
        """Seconds each request pushes the client's TAT."""
        return 1.0 / self.rate

    @property
    def window(self) -> float:
        """Seconds a full burst takes to earn back (the policy's window)."""
        return self.burst * self.interval


@dataclass(frozen=True, slots=True)
class Decision:
    """What one request gets: admitted or not, what is left, and when to come back."""

    allowed: bool
    remaining: int
    # Seconds until a refused request would be admitted (0 when admitted).
    retry_after: float
    # Seconds until the client's whole burst is available again.
    reset: float


class RateLimiter(Protocol):
    """Where each client's request budget is kept (one process, or Redis for all replicas)."""

    async def admit(self, key: str, policy: Policy, now: float) -> Decision:
        """Decide one request of the client `key` (`now` is unix seconds; Redis uses its own)."""
        ...


def gcra(tat: float | None, now: float, policy: Policy) -> tuple[float | None, Decision]:
    """The decision for a request at `now` given the client's TAT, and the TAT to store
    (None: unchanged, the request was refused)."""
    interval = policy.interval
    tat = now if tat is None or tat < now else tat
    new_tat = tat + interval
    allow_at = new_tat - policy.window
    # Unix seconds keep about 0.2 µs of precision: a request exactly on time is on time.
    if now < allow_at - 1e-6:
        return None, Decision(False, 0, allow_at - now, tat - now)
    remaining = min(policy.burst - 1, math.floor((now - allow_at) / interval + 1e-6))
    return new_tat, Decision(True, remaining, 0.0, new_tat - now)


class InProcessRateLimiter:
    """One process's clients' TATs (no Redis: each replica limits on its own)."""

    # Past this many clients, those whose TAT has passed (a full bucket) are forgotten.
    MAX_CLIENTS = 100_000

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}

    async def admit(self, key: str, policy: Policy, now: float) -> Decision:
        """Decide one request of the client `key` under `policy`."""
        new_tat, decision = gcra(self._tats.get(key), now, policy)
        if new_tat is not None:
            if len(self._tats) >= self.MAX_CLIENTS:
                self._forget_idle(now)
            self._tats[key] = new_tat
        return decision

    def _forget_idle(self, now: float) -> None:
        self._tats = {k: tat for k, tat in self._tats.items() if tat > now}


class RememberedRefusals:
    """A shared limiter, asked only when the answer is not already known here: a client just
    refused stays refused until its retry time (a refusal changes no state), so a flooding
    client costs this process a dictionary lookup per request instead of a Redis round trip."""

    def __init__(self, shared: RateLimiter) -> None:
        self._shared = shared
        self._until: dict[str, tuple[float, Decision]] = {}

    async def admit(self, key: str, policy: Policy, now: float) -> Decision:
        """Decide one request of the client `key` under `policy`."""
        remembered = self._until.get(f"{policy.name}:{key}")
        if remembered is not None and now < remembered[0]:
            until, refused = remembered
            return replace(refused, retry_after=until - now, reset=refused.reset - (until - now))
        decision = await self._shared.admit(key, policy, now)
        if not decision.allowed:
            if len(self._until) >= InProcessRateLimiter.MAX_CLIENTS:
                self._until = {k: v for k, v in self._until.items() if v[0] > now}
            self._until[f"{policy.name}:{key}"] = (now + decision.retry_after, decision)
        return decision
