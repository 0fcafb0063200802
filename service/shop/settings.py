"""Settings, read once from the environment into a frozen object.

Every field is settable: the variable is SHOP_<FIELD> (or the one its metadata names), and the
field's type says how the text is read, so adding a setting is adding a field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any

DEFAULT_ADMIN_TOKEN = "dev-admin-token"
ENVIRONMENTS = ("dev", "test", "prod")
LOCK_BACKENDS = ("local", "redis")
EVENT_LOOPS = ("uvloop", "asyncio")
AUTH_MODES = ("required", "off")
SWITCH_MODES = ("on", "off")
DEFAULT_AUTH_SECRET = "dev-auth-secret"
DEFAULT_LOADTEST_SECRET = "dev-loadtest-secret"
LOADTEST_KEY_ID = "loadtest"
DEFAULT_KEY_ID = "k1"
MAX_TOKEN_TTL = 30 * 24 * 3600
MAX_PROD_TOKEN_TTL = 24 * 3600
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class SettingsError(ValueError):
    """The environment describes a configuration the shop refuses to run with."""


@dataclass(frozen=True, slots=True)
class Settings:
    db_url: str = "mysql://root:@127.0.0.1:3306/shop"
    redis_url: str | None = None
    # Namespace of every Redis key (locks, coupon gate, switches): shops can share a Redis.
    redis_prefix: str = "shop:"
    # A waiting pool: a burst queues for a connection instead of failing (redis-py's default
    # pool refuses past its cap). One process rarely has more than a few commands in flight.
    redis_pool_max: int = 64
    redis_acquire_timeout: float = 5.0
    host: str = "0.0.0.0"
    port: int = 8081
    # Sized for the load tests on a small machine: one process on 2 cores saturates its CPU
    # long before 64 connections are busy, while 10 (the original's) queued requests.
    db_pool_max: int = 64
    db_acquire_timeout: float = 5.0
    admin_token: str = DEFAULT_ADMIN_TOKEN
    # Scoped admin credentials beside it, `actor:scope+scope:secret` separated by spaces
    # (auth/admins.py); the payment service's holds `charges`.
    admin_credentials: str = ""
    # Incident switches (fault injection: drop an index, slow the database): empty = on in a
    # lab, off in prod unless set to "on".
    incidents: str = ""
    env: str = "dev"
    # User bearer tokens: "required" (each user acts only on their own resources) or "off"
    # (trusted load-test environments). Empty = "required" in prod, "off" elsewhere.
    auth: str = ""
    auth_secret: str = DEFAULT_AUTH_SECRET
    # Rotation with overlap (docs/decisions/0034-token-lifecycle.md): the current key signs; the
    # accepted one only verifies, until _UNTIL (unix seconds; 0 = while it is configured).
    auth_key_id: str = DEFAULT_KEY_ID
    auth_accept_key_id: str = ""
    auth_accept_secret: str = ""
    auth_accept_until: int = 0
    # The load-test tools' own signing secret (they never hold SHOP_AUTH_SECRET); empty =
    # dev-loadtest-secret outside production, where load-test tokens are never accepted.
    loadtest_secret: str = ""
    token_ttl: int = 3600
    # Seconds between reads of the per-user revocations (how soon a revocation reaches a replica).
    token_revocation_refresh: float = 2.0
    lock_backend: str = "local"
    lock_wait: float = 5.0
    lock_lease: float = 10.0
    log_level: str = "INFO"
    event_loop: str = "uvloop"
    # Share of new traces recorded (parent-based), when tracing is on at all.
    trace_sample_ratio: float = 1.0
    # Off only for measuring what instrumentation costs (docs/benchmarks/observability.md).
    telemetry: bool = True
    # Idempotency keys are kept this long (Stripe: 24 h); a claim older than the timeout
    # belongs to a request that died before answering, and a retry may take it over.
    idempotency_ttl: float = 24 * 3600.0
    idempotency_claim_timeout: float = 30.0
    max_body_bytes: int = 64 * 1024
    # Seconds a client gets to send a request's headers, and again its body (then 408).
    client_timeout: float = 10.0
    # Processes serving one port (SO_REUSEPORT, the kernel spreads connections); more than one
    # needs the Redis lock backend so that per-user locks hold across them.
    workers: int = 1
    # A port of its own for /metrics (0: none, /metrics is on the API port only). Worker i of
    # SHOP_WORKERS serves its metrics on this port + i: a scrape of the shared API port reaches
    # one worker at random, so several workers need it.
    metrics_port: int = 0
    # A listener of its own for the admin routes and /metrics, which the load balancer does not
    # route (0: none, they are on the API port). With it, the API port answers them 404.
    admin_port: int = 0
    # Seconds an idle kept-alive connection is held (aiohttp's default is about an hour; 75 s
    # outlives the usual load balancer's idle timeout of 60 s, so the balancer closes first).
    keepalive_timeout: float = 75.0
    # A coupon unit admitted by the Redis gate whose request died before commit is given back
    # after this long (checked against MySQL every interval).
    coupon_gate_grace: float = 30.0
    coupon_gate_interval: float = 5.0
    # Concurrent issues of one coupon share a transaction of at most this many (group commit);
    # 1 = one transaction per issue.
    coupon_batch_max: int = 100
    # Batches of one coupon in flight at once per process: they overlap all but the guarded
    # update and the commit (the hot row's lock).
    coupon_batch_parallel: int = 4
    # Concurrent orders share a transaction of at most this many (group commit; the hot
    # product row is locked once per batch); 1 = one transaction per order.
    order_batch_max: int = 100
    # Order batches in flight at once per process: they overlap all but the stock update
    # and the commit.
    order_batch_parallel: int = 4
    shutdown_timeout: float = 30.0
    # Per-client limits, answered 429 (docs/security.md): "on" or "off"; empty = on in prod, off
    # in a lab, whose load tests and game days send far more per client than anyone should.
    rate_limits: str = ""
    # Requests a second on average, per user on user routes (the token's user; the claimed
    # userId with SHOP_AUTH=off) and per client address on the others; a client may spend
    # SHOP_RATE_LIMIT_BURST_SECONDS of its rate at once. With SHOP_REDIS_URL every replica
    # shares one budget per client; without, each replica keeps its own.
    rate_limit_user: float = 20.0
    rate_limit_address: float = 50.0
    rate_limit_burst_seconds: float = 2.0
    # Load balancers whose X-Forwarded-For names the client (comma-separated addresses); from
    # anyone else the header is ignored, or a client could name a fresh address per request.
    trusted_proxies: str = ""
    # Admission control at the front door (docs/decisions/0041-admission-control.md): "on" or
    # "off"; empty = on in prod, off elsewhere (the labs measure the shop without it unless
    # they ask). The limit adapts between min and max; a request waits at most the queue
    # interval for a slot, and only the target once the queue has not emptied for an interval.
    admission: str = ""
    admission_initial_limit: int = 64
    admission_min_limit: int = 32
    admission_max_limit: int = 512
    admission_queue_interval: float = 0.1
    admission_queue_target: float = 0.005
    # Turns tracing on: spans go there by OTLP/HTTP (the OpenTelemetry variable names).
    otlp_endpoint: str | None = field(default=None, metadata={"env": "OTEL_EXPORTER_OTLP_ENDPOINT"})
    otlp_traces_endpoint: str | None = field(
        default=None, metadata={"env": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"}
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "log_level", self.log_level.upper())
        object.__setattr__(self, "auth", self.auth.lower())
        object.__setattr__(self, "rate_limits", self.rate_limits.lower())
        if self.env not in ENVIRONMENTS:
            raise SettingsError(f"SHOP_ENV must be one of {', '.join(ENVIRONMENTS)}")
        if not self.auth:
            object.__setattr__(self, "auth", "required" if self.env == "prod" else "off")
        object.__setattr__(self, "incidents", self.incidents.lower() or _lab_only(self.env))
        if self.incidents not in SWITCH_MODES:
            raise SettingsError("SHOP_INCIDENTS must be on or off")
        if not self.rate_limits:
            object.__setattr__(self, "rate_limits", "on" if self.env == "prod" else "off")
        if self.rate_limits not in SWITCH_MODES:
            raise SettingsError("SHOP_RATE_LIMITS must be on or off")
        if min(self.rate_limit_user, self.rate_limit_address) * self.rate_limit_burst_seconds < 1:
            raise SettingsError(
                "SHOP_RATE_LIMIT_USER and _ADDRESS times _BURST_SECONDS must allow a request"
            )
        if not self.admission:
            object.__setattr__(self, "admission", "on" if self.env == "prod" else "off")
        if self.admission not in SWITCH_MODES:
            raise SettingsError("SHOP_ADMISSION must be on or off")
        if not (
            1
            <= self.admission_min_limit
            <= self.admission_initial_limit
            <= self.admission_max_limit
        ):
            raise SettingsError(
                "SHOP_ADMISSION_MIN_LIMIT <= _INITIAL_LIMIT <= _MAX_LIMIT must hold (all >= 1)"
            )
        if not 0 < self.admission_queue_target <= self.admission_queue_interval:
            raise SettingsError("0 < SHOP_ADMISSION_QUEUE_TARGET <= _QUEUE_INTERVAL must hold")
        if self.auth not in AUTH_MODES:
            raise SettingsError(f"SHOP_AUTH must be one of {', '.join(AUTH_MODES)}")
        if self.env == "prod" and self.auth_secret in ("", DEFAULT_AUTH_SECRET):
            raise SettingsError("SHOP_AUTH_SECRET must be set to a secret in production")
        self._check_token_keys()
        if not 0 < self.token_ttl <= self.max_token_ttl:
            raise SettingsError(
                f"SHOP_TOKEN_TTL must be between 1 and {self.max_token_ttl} seconds in {self.env}"
            )
        if self.token_revocation_refresh <= 0:
            raise SettingsError("SHOP_TOKEN_REVOCATION_REFRESH must be positive")
        if self.lock_backend not in LOCK_BACKENDS:
            raise SettingsError(f"SHOP_LOCK_BACKEND must be one of {', '.join(LOCK_BACKENDS)}")
        if self.lock_backend == "redis" and not self.redis_url:
            raise SettingsError("SHOP_LOCK_BACKEND=redis needs SHOP_REDIS_URL")
        if self.env == "prod" and self.admin_token in ("", DEFAULT_ADMIN_TOKEN):
            raise SettingsError("SHOP_ADMIN_TOKEN must be set to a secret in production")
        if self.event_loop not in EVENT_LOOPS:
            raise SettingsError(f"SHOP_EVENT_LOOP must be one of {', '.join(EVENT_LOOPS)}")
        if not 0.0 <= self.trace_sample_ratio <= 1.0:
            raise SettingsError("SHOP_TRACE_SAMPLE_RATIO must be between 0 and 1")
        if self.db_pool_max < 1:
            raise SettingsError("SHOP_DB_POOL_MAX must be at least 1")
        if self.client_timeout <= 0:
            raise SettingsError("SHOP_CLIENT_TIMEOUT must be positive")
        if self.redis_pool_max < 2:  # the lock backend's subscription keeps one for itself
            raise SettingsError("SHOP_REDIS_POOL_MAX must be at least 2")
        if self.idempotency_ttl <= 0 or self.idempotency_claim_timeout <= 0:
            raise SettingsError("SHOP_IDEMPOTENCY_TTL and _CLAIM_TIMEOUT must be positive")
        if self.workers < 1:
            raise SettingsError("SHOP_WORKERS must be at least 1")
        if self.workers > 1 and self.lock_backend != "redis":
            raise SettingsError("SHOP_WORKERS > 1 needs SHOP_LOCK_BACKEND=redis")
        if self.workers > 1 and not self.metrics_port:
            raise SettingsError(
                "SHOP_WORKERS > 1 needs SHOP_METRICS_PORT (each worker's metrics on a port of its"
                " own: a scrape of the shared port would reach one worker at random)"
            )
        if not 0 <= self.metrics_port <= 65535 - self.workers:
            raise SettingsError("SHOP_METRICS_PORT must leave room for a port per worker")
        if not 1 <= self.coupon_batch_max <= 1000:
            raise SettingsError("SHOP_COUPON_BATCH_MAX must be between 1 and 1000")
        if not 1 <= self.order_batch_max <= 1000:
            raise SettingsError("SHOP_ORDER_BATCH_MAX must be between 1 and 1000")
        if not 1 <= self.order_batch_parallel <= 64:
            raise SettingsError("SHOP_ORDER_BATCH_PARALLEL must be between 1 and 64")
        if not 1 <= self.coupon_batch_parallel <= 64:
            raise SettingsError("SHOP_COUPON_BATCH_PARALLEL must be between 1 and 64")
        if not 0 < self.port < 65536:
            raise SettingsError("SHOP_PORT must be a TCP port")
        if not 0 <= self.admin_port < 65536 or self.admin_port == self.port:
            raise SettingsError("SHOP_ADMIN_PORT must be a TCP port other than SHOP_PORT")
        if not 0 < self.keepalive_timeout <= 75:
            raise SettingsError("SHOP_KEEPALIVE_TIMEOUT must be between 0 and 75 seconds")

    @property
    def max_token_ttl(self) -> int:
        """The longest a user token may live: a day in production, 30 days in a lab."""
        return MAX_PROD_TOKEN_TTL if self.env == "prod" else MAX_TOKEN_TTL

    @property
    def loadtest_key(self) -> str:
        """The secret of the load-test tools' tokens this shop accepts ("" = none)."""
        if self.env == "prod":
            return ""
        return self.loadtest_secret or DEFAULT_LOADTEST_SECRET

    def _check_token_keys(self) -> None:
        if self.env == "prod" and self.loadtest_secret:
            raise SettingsError("SHOP_LOADTEST_SECRET is refused in production")
        if self.loadtest_key == self.auth_secret:
            raise SettingsError("SHOP_LOADTEST_SECRET must differ from SHOP_AUTH_SECRET")
        key_ids = [self.auth_key_id]
        if self.auth_accept_secret:
            key_ids.append(self.auth_accept_key_id)
            weak = (self.auth_secret, DEFAULT_AUTH_SECRET if self.env == "prod" else None)
            if self.auth_accept_secret in weak:
                raise SettingsError("SHOP_AUTH_ACCEPT_SECRET must be another real secret")
        if not all(KEY_ID.fullmatch(k) for k in key_ids) or len(set(key_ids)) < len(key_ids):
            raise SettingsError(
                "SHOP_AUTH_KEY_ID and SHOP_AUTH_ACCEPT_KEY_ID must be distinct names of 1 to 32"
                " letters, digits, '-' or '_'"
            )
        if LOADTEST_KEY_ID in key_ids:
            raise SettingsError(f"the key id {LOADTEST_KEY_ID!r} belongs to the load-test tools")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every field from its variable (`env_var`); unset ones keep their defaults."""
        env = os.environ if environ is None else environ
        values = {f.name: _parse(f, env[env_var(f)]) for f in fields(cls) if env_var(f) in env}
        return cls(**{k: v for k, v in values.items() if v is not _UNSET})


def _lab_only(env: str) -> str:
    return "off" if env == "prod" else "on"


def env_var(f: Field[Any]) -> str:
    """The variable a field is read from: SHOP_<NAME>, unless the field names another."""
    return str(f.metadata.get("env", f"SHOP_{f.name.upper()}"))


_UNSET = object()
_FALSE = ("off", "0", "false")


def _parse(f: Field[Any], raw: str) -> Any:
    """One variable's text as the field's type; an empty number or URL means "unset"."""
    kind = str(f.type)
    if kind == "bool":
        return raw.lower() not in _FALSE
    if kind in ("int", "float"):
        if raw == "":
            return _UNSET
        try:
            return int(raw) if kind == "int" else float(raw)
        except ValueError:
            raise SettingsError(f"{env_var(f)} must be a number, not {raw!r}") from None
    if kind == "str | None":
        return raw or None
    return raw
