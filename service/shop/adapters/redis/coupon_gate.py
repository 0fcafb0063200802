"""The coupon gate: one Lua script answers duplicate and sold-out requests from Redis, so
only requests that can still succeed reach MySQL. MySQL stays the last word (its guarded
update and unique key), so a stale or lost gate can cost a wasted query, never an over-issue.

Every admission is also recorded as pending (with Redis's own clock), and a reconciler asks
MySQL about the ones older than a grace period: a unit whose request died between admission
and commit (a process killed, a refund that never reached Redis) comes back by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ...domain.coupons import Admission
from ...domain.errors import ShopError
from ...telemetry import Telemetry
from ...telemetry.logging import get_logger

log = get_logger("shop.coupon_gate")

# KEYS: ready flag, remaining counter, issued-users set, pending admissions (user -> ms).
# ARGV: the user ids of a batch of requests, in arrival order. {-3} not loaded (rebuild from
# MySQL first); else one answer each: -1 duplicate, -2 sold out, else units left.
_ADMIT_MANY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-3} end
local answers = {}
local left = tonumber(redis.call('GET', KEYS[2]) or '0')
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[3], ARGV[i]) == 1 then answers[i] = -1
  elseif left <= 0 then answers[i] = -2
  else
    redis.call('SADD', KEYS[3], ARGV[i])
    redis.call('ZADD', KEYS[4], ms, ARGV[i])
    left = redis.call('DECR', KEYS[2])
    answers[i] = left
  end
end
return answers
"""
# Give back units the database did not confirm (only a user whose admission is still pending:
# the reconciler may have given it back already).
_REFUND_MANY = """
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[4], ARGV[i]) == 1 and redis.call('SREM', KEYS[3], ARGV[i]) == 1 then
    redis.call('INCR', KEYS[2])
  end
end
return 1
"""
# KEYS as above. ARGV: grace ms, at most how many. Admissions pending for longer than the
# grace, as a flat list user, score, user, score...
_OVERDUE = """
local now = redis.call('TIME')
local before = now[1] * 1000 + math.floor(now[2] / 1000) - tonumber(ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', before, 'WITHSCORES', 'LIMIT', 0, ARGV[2])
"""
# KEYS as above. ARGV: user, score seen, 1 if MySQL holds the user's coupon else 0, ... An
# admission MySQL confirmed stops being pending; one it never saw is refunded. The score must
# still be the one seen, so that a newer admission of the same user is left alone.
_SETTLE = """
local refunded = 0
for i = 1, #ARGV, 3 do
  if redis.call('ZSCORE', KEYS[4], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZREM', KEYS[4], ARGV[i])
    if ARGV[i + 2] == '0' and redis.call('SREM', KEYS[3], ARGV[i]) == 1 then
      redis.call('INCR', KEYS[2])
      refunded = refunded + 1
    end
  end
end
return refunded
"""
# KEYS as above; ARGV: remaining, then every issued user id. Loads the gate atomically, once:
# a second, concurrent rebuild must not wipe the admissions made since the first one.
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[3], KEYS[4])
for i = 2, #ARGV, 5000 do
  redis.call('SADD', KEYS[3], unpack(ARGV, i, math.min(i + 4999, #ARGV)))
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SET', KEYS[1], '1')
return 1
"""

Snapshot = Callable[[str], Awaitable[tuple[int, Sequence[str]] | None]]
# (coupon id, user ids) -> the ones among them that hold the coupon in MySQL.
Holders = Callable[[str, Sequence[str]], Awaitable[set[str]]]
# Longer than an issue request normally takes end to end; one still running past it gets its
# unit given back early, which costs nothing worse than a MySQL refusal for a later request.
RECONCILE_GRACE = 30.0
RECONCILE_INTERVAL = 5.0
_RECONCILE_BATCH = 1000


class RedisCouponGate:
    """Admits at most `remaining` distinct users per coupon, rebuilt from MySQL when missing."""

    def __init__(
        self,
        client: Redis,
        snapshot: Snapshot,
        *,
        telemetry: Telemetry | None = None,
        prefix: str = "shop:coupon:",
        holders: Holders | None = None,
    ) -> None:
        self._client = client
        self._holders = holders
        self._telemetry = telemetry or Telemetry.disabled()
        self._snapshot = snapshot
        self._prefix = prefix
        self._admit_many = client.register_script(_ADMIT_MANY)
        self._refund_many = client.register_script(_REFUND_MANY)
        self._load = client.register_script(_LOAD)
        self._overdue = client.register_script(_OVERDUE)
        self._settle = client.register_script(_SETTLE)
        # Coupons this process has asked the gate about: the ones it reconciles.
        self._seen: set[str] = set()
        # Coupons whose gate may have missed writes while Redis was unreachable.
        self._stale: set[str] = set()

    def _keys(self, coupon_id: str) -> list[str]:
        base = f"{self._prefix}{{{coupon_id}}}"  # one hash slot per coupon (cluster-safe)
        return [f"{base}:ready", f"{base}:left", f"{base}:users", f"{base}:pending"]

    async def admit_many(self, coupon_id: str, user_ids: Sequence[str]) -> list[Admission]:
        """Ask the gate for each user, in one script call, answers in order; BYPASSED means
        "let MySQL decide" (Redis down or no such coupon)."""
        with self._telemetry.redis_span("coupon_gate.admit_many"):
            answers = await self._admit_many_once(coupon_id, list(user_ids))
        return [_admission(a) for a in answers]

    async def _admit_many_once(self, coupon_id: str, user_ids: list[str]) -> list[int]:
        keys = self._keys(coupon_id)
        bypass = [-4] * len(user_ids)
        try:
            if coupon_id in self._stale:
                await self._client.delete(keys[0])
                self._stale.discard(coupon_id)
            answers = [int(a) for a in await self._admit_many(keys=keys, args=user_ids)]
            if answers == [-3]:
                if not await self.rebuild(coupon_id):
                    return bypass
                answers = [int(a) for a in await self._admit_many(keys=keys, args=user_ids)]
            self._seen.add(coupon_id)
        except RedisError as exc:
            self._stale.add(coupon_id)
            log.warning("coupon_gate_unavailable", coupon_id=coupon_id, error=str(exc))
            return bypass
        return bypass if answers == [-3] else answers

    async def refund_many(self, coupon_id: str, user_ids: Sequence[str]) -> None:
        """Undo admissions MySQL did not confirm, in one script call."""
        try:
            with self._telemetry.redis_span("coupon_gate.refund_many"):
                await self._refund_many(keys=self._keys(coupon_id), args=list(user_ids))
        except RedisError as exc:
            self._stale.add(coupon_id)
            log.warning("coupon_gate_unavailable", coupon_id=coupon_id, error=str(exc))

    async def rebuild(self, coupon_id: str) -> bool:
        """Load remaining units and issued users from MySQL; False for an unknown coupon."""
        snapshot = await self._snapshot(coupon_id)
        if snapshot is None:
            return False
        remaining, users = snapshot
        args: list[Any] = [remaining, *users]
        with self._telemetry.redis_span("coupon_gate.load"):
            await self._load(keys=self._keys(coupon_id), args=args)
        log.info("coupon_gate_rebuilt", coupon_id=coupon_id, remaining=remaining, issued=len(users))
        return True

    async def reconcile(self, coupon_id: str, *, grace: float = RECONCILE_GRACE) -> int:
        """Settle admissions pending longer than `grace` against MySQL; returns units refunded."""
        if self._holders is None:
            return 0
        keys = self._keys(coupon_id)
        flat = await self._overdue(keys=keys, args=[int(grace * 1000), _RECONCILE_BATCH])
        pairs = [
            (user.decode() if isinstance(user, bytes) else str(user), score)
            for user, score in zip(flat[::2], flat[1::2], strict=True)
        ]
        if not pairs:
            return 0
        held = await self._holders(coupon_id, [user for user, _ in pairs])
        args: list[Any] = []
        for user, score in pairs:
            args += [user, score, 1 if user in held else 0]
        with self._telemetry.redis_span("coupon_gate.settle"):
            refunded = int(await self._settle(keys=keys, args=args))
        if refunded:
            log.warning("coupon_gate_units_recovered", coupon_id=coupon_id, units=refunded)
        return refunded

    async def reconcile_forever(
        self, *, grace: float = RECONCILE_GRACE, interval: float = RECONCILE_INTERVAL
    ) -> None:
        """Reconcile every coupon this process has seen, every `interval` seconds."""
        failing = False
        while True:
            await asyncio.sleep(interval)
            try:
                for coupon_id in list(self._seen):
                    await self.reconcile(coupon_id, grace=grace)
                failing = False
            except (RedisError, ShopError) as exc:
                if not failing:  # once per outage
                    log.warning("coupon_gate_reconcile_failed", error=str(exc))
                failing = True


def _admission(answer: int) -> Admission:
    """-1 duplicate, -2 sold out, units left (>= 0) admitted, anything else bypassed."""
    if answer == -1:
        return Admission.DUPLICATE
    if answer == -2:
        return Admission.SOLD_OUT
    return Admission.ADMITTED if answer >= 0 else Admission.BYPASSED
