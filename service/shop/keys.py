"""Every piece of typed application state (aiohttp AppKey): no string keys anywhere.

Keys hold ports and plain values, never adapter classes: what api/ reads stays independent of
the drivers behind it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from structlog.typing import FilteringBoundLogger

from .auth.admins import Admins
from .auth.keyring import Keyring
from .auth.revocations import RevocationStore
from .domain.rate_limits import Decision, Policy, RateLimiter
from .incidents.switches import Switches
from .settings import Settings
from .telemetry import Telemetry
from .use_cases.deps import Deps
from .use_cases.idempotency import KeyPolicy
from .use_cases.ports import DatabaseProbe, Probe

SETTINGS = web.AppKey("settings", Settings)
DEPS = web.AppKey("deps", Deps)
SWITCHES = web.AppKey("switches", Switches)
# The request pool (tests reach it here), and what /readyz asks after: MySQL always, on a
# connection of its own (adapters/mysql/probe.py), Redis when it is configured.
DATABASE = web.AppKey("database", Probe)
MYSQL_PROBE = web.AppKey("mysql_probe", DatabaseProbe)
REDIS = web.AppKey("redis", Probe)
OPENAPI = web.AppKey("openapi", dict[str, Any])
TELEMETRY = web.AppKey("telemetry", Telemetry)
IDEMPOTENCY = web.AppKey("idempotency", KeyPolicy)
# Bound once per app: a lazy structlog proxy would rebuild its logger on every request.
ACCESS_LOG = web.AppKey("access_log", FilteringBoundLogger)
# Signs and checks user tokens (keys, environment, lifetime, revocations).
KEYRING = web.AppKey("keyring", Keyring)
# The admin credentials and their scopes; where revocations are written.
ADMINS = web.AppKey("admins", Admins)
REVOCATION_STORE = web.AppKey("revocation_store", RevocationStore)
# Per-client limits: where budgets are kept (absent when SHOP_RATE_LIMITS=off), the policy of
# each kind of client, and which kind each route limits by ("" = exempt: probes, admin).
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
RATE_POLICIES = web.AppKey("rate_policies", dict[str, Policy])
ROUTE_LIMITS = web.AppKey("route_limits", dict[tuple[str, str], str])

# Per-request storage.
TRACE_ID = web.RequestKey("trace_id", str)
ERROR_CODE = web.RequestKey("error_code", str)
# An Idempotency-Key retry answered from the store: counted as `replayed`, not as a new outcome.
REPLAYED_ANSWER = web.RequestKey("replayed_answer", bool)
# When a keyed request's stored refusal was decided: its problem says so on every answer.
DECIDED_AT = web.RequestKey("decided_at", datetime)
# time.monotonic() when the request's head was parsed: the gate refuses one that waited too long.
ARRIVED_AT = web.RequestKey("arrived_at", float)
# The user a valid bearer token names (absent when SHOP_AUTH=off).
PRINCIPAL = web.RequestKey("principal", str)
# The policy a request was counted under and its decision (for the RateLimit fields).
RATE_LIMIT = web.RequestKey("rate_limit", tuple[Policy, Decision])
