"""Incident switch values shared by every replica, in one Redis hash."""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ...incidents.switches import SwitchNotShared


class RedisSwitchValues:
    def __init__(self, client: Redis, *, key: str) -> None:
        self._client = client
        self._key = key

    async def publish(self, name: str, value: Any) -> None:
        """Record a new value for every replica."""
        try:
            await self._client.hset(self._key, name, orjson.dumps(value))
        except RedisError as exc:
            raise SwitchNotShared(
                f"{name} changed on this replica only: Redis is unreachable ({exc})"
            ) from exc

    async def snapshot(self) -> dict[str, Any]:
        """Every value recorded so far."""
        try:
            stored = await self._client.hgetall(self._key)
        except RedisError as exc:
            raise SwitchNotShared(f"cannot read the fleet's switch values: {exc}") from exc
        return {
            (k.decode() if isinstance(k, bytes) else str(k)): orjson.loads(v)
            for k, v in stored.items()
        }
