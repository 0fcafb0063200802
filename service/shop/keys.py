"""Every piece of typed application state (aiohttp AppKey): no string keys anywhere."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from structlog.typing import FilteringBoundLogger

from .adapters.mysql.pool import Database
from .adapters.redis.coupon_gate import RedisCouponGate
from .incidents.switches import Switches
from .settings import Settings
from .telemetry import Telemetry
from .use_cases.deps import Deps
from .use_cases.idempotency import KeyPolicy

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
DEPS = web.AppKey("deps", Deps)
SWITCHES = web.AppKey("switches", Switches)
REDIS = web.AppKey("redis", Redis)
COUPON_GATE = web.AppKey("coupon_gate", RedisCouponGate)
OPENAPI = web.AppKey("openapi", dict[str, Any])
TELEMETRY = web.AppKey("telemetry", Telemetry)
IDEMPOTENCY = web.AppKey("idempotency", KeyPolicy)
# Bound once per app: a lazy structlog proxy would rebuild its logger on every request.
ACCESS_LOG = web.AppKey("access_log", FilteringBoundLogger)

# Per-request storage.
TRACE_ID = web.RequestKey("trace_id", str)
USER_ID = web.RequestKey("user_id", str)
ERROR_CODE = web.RequestKey("error_code", str)
# The user a valid bearer token names (absent when SHOP_AUTH=off).
PRINCIPAL = web.RequestKey("principal", str)
