"""Per-client request limits shared by every replica: GCRA in one Lua script, one round trip.

The script is `domain.rate_limits.gcra` over Redis's own clock (`TIME`), so replicas with
skewed clocks still agree. When Redis does not answer, requests are admitted: a limiter must
not turn a Redis outage into a shop outage (the error is counted and logged).
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ...domain.rate_limits import Decision, Policy
from ...telemetry import Telemetry
from ...telemetry.logging import get_logger

log = get_logger("shop.rate_limits")

# KEYS[1] the client's TAT; ARGV: interval and window in microseconds. Integers throughout:
# a Lua number returned to Redis loses its fraction, and one written as text keeps 14 digits
# unless formatted.
_ADMIT = """
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - window
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
"""
_MICRO = 1_000_000


class RedisRateLimiter:
    def __init__(self, client: Redis, *, prefix: str, telemetry: Telemetry) -> None:
        self._admit = client.register_script(_ADMIT)
        self._prefix = prefix
        self._telemetry = telemetry

    async def admit(self, key: str, policy: Policy, now: float) -> Decision:
        """Decide one request of the client `key` (Redis's clock, not `now`)."""
        try:
            allowed, remaining, retry_after, reset = await self._admit(
                keys=[f"{self._prefix}{policy.name}:{key}"],
                args=[round(policy.interval * _MICRO), round(policy.window * _MICRO)],
            )
        except (RedisError, OSError) as exc:
            metrics = self._telemetry.metrics
            metrics.child(metrics.rate_limit_errors, policy.name).inc()
            log.warning("rate_limit_unavailable", error=str(exc))
            return Decision(True, policy.burst - 1, 0.0, 0.0)
        return Decision(
            bool(allowed),
            min(int(remaining), policy.burst - 1),
            int(retry_after) / _MICRO,
            int(reset) / _MICRO,
        )
