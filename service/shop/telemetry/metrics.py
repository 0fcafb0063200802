"""Every Prometheus instrument of the shop, named once; dashboards and alerts use these names.

Names follow the OpenTelemetry semantic conventions (HTTP server, DB client pool) so that a
switch to OTLP metrics keeps the dashboards. Label values are bounded: route templates, lock
names, static query names and error codes, never ids.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from .. import __version__
from ..domain.rate_limits import ADDRESS, USER

# prometheus-client's defaults, which are also the OTel HTTP semconv buckets.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
DB_OPERATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)
# Pool waits are sub-millisecond when healthy: fine buckets from 0.1 ms show the first queueing.
POOL_WAIT_BUCKETS = (0.0001, *DB_OPERATION_BUCKETS)
LOCK_BUCKETS = (0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LOOP_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# The gate's deadlines are 5 ms and 100 ms: buckets around both, and past them for late ones.
ADMISSION_QUEUE_BUCKETS = (0.0001, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

# Histograms (with their buckets) and counters: name -> (documentation, labels, buckets or None).
Spec = tuple[str, tuple[str, ...], tuple[float, ...] | None]
INSTRUMENTS: dict[str, Spec] = {
    "http_server_request_duration_seconds": (
        "Duration of HTTP server requests",
        ("http_request_method", "http_route", "http_response_status_code"),
        HTTP_BUCKETS,
    ),
    "db_client_connection_wait_time_seconds": (
        "Time to obtain a connection from the pool",
        ("pool",),
        POOL_WAIT_BUCKETS,
    ),
    "db_client_connection_use_time_seconds": (
        "Time a connection was borrowed",
        ("pool",),
        DB_OPERATION_BUCKETS,
    ),
    "db_client_connection_timeouts": (
        "Acquires that gave up waiting for a connection",
        ("pool",),
        None,
    ),
    "db_client_operation_duration_seconds": (
        "Duration of database statements by static query name",
        ("db_system", "db_operation", "error_code"),
        DB_OPERATION_BUCKETS,
    ),
    "shop_lock_wait_duration_seconds": (
        "Time spent waiting for a lock",
        ("lock_name", "backend", "outcome"),
        LOCK_BUCKETS,
    ),
    "shop_lock_hold_duration_seconds": (
        "Time a lock was held",
        ("lock_name", "backend"),
        LOCK_BUCKETS,
    ),
    "shop_lock_lease_lost": (
        "Leases that expired or were taken over while held",
        ("lock_name", "backend"),
        None,
    ),
    "shop_lock_backend_errors": ("Lock backend operations that failed", ("backend", "op"), None),
    "shop_lock_wakeups": ("Waiter wake-ups by source", ("backend", "source"), None),
    "shop_event_loop_lag_seconds": ("How late the event loop ran a timer", (), LOOP_LAG_BUCKETS),
    "shop_admission_queue_duration_seconds": (
        "Time a request waited before the admission gate decided (admitted or refused)",
        ("priority", "decision"),
        ADMISSION_QUEUE_BUCKETS,
    ),
    "shop_admission_refusals": (
        "Requests refused at the admission gate (503 OVERLOADED) by reason and route",
        ("reason", "http_route"),
        None,
    ),
    "shop_orders": ("Order attempts by outcome", ("outcome",), None),
    "shop_coupon_issues": ("Coupon issue attempts by outcome", ("outcome",), None),
    "shop_balance_charges": ("Balance charges by outcome", ("outcome",), None),
    # Per-client limits (api/framework/rate_limits.py): requests refused with 429 per policy
    # ("user" or "address"), and decisions Redis could not make (those requests were admitted).
    "shop_rate_limited": ("Requests refused by a per-client limit", ("policy",), None),
    "shop_rate_limit_errors": (
        "Limit decisions the shared store could not make (admitted)",
        ("policy",),
        None,
    ),
}

# Gauges read at scrape time from live state (plain counters on the hot path, no locks).
Reading = Callable[[], Iterable[tuple[Sequence[str], float]]]
SCRAPED: dict[str, tuple[str, tuple[str, ...]]] = {
    "http_server_active_requests": ("HTTP server requests in flight", ("http_request_method",)),
    "db_client_connection_count": ("Connections in the pool by state", ("pool", "state")),
    "db_client_connection_max": ("Connections the pool may lend at once", ("pool",)),
    "db_client_connection_pending_requests": ("Requests waiting for a connection", ("pool",)),
    "shop_lock_waiters": ("Requests waiting for a lock", ("lock_name", "backend")),
    "shop_lock_held": ("Locks held right now", ("lock_name", "backend")),
    "shop_admission_limit": ("Requests the admission gate lets in flight at once", ()),
    "shop_admission_in_flight": ("Requests admitted by the gate and not yet answered", ()),
    "shop_admission_queued": ("Requests waiting at the admission gate", ()),
    "shop_lock_keys": (
        "Keys with a holder or waiter in this process (grows only on a leak)",
        ("backend",),
    ),
}


class _Readings(Collector):
    def __init__(self) -> None:
        self.readings: dict[str, list[Reading]] = {name: [] for name in SCRAPED}

    def collect(self) -> Iterable[Metric]:
        for name, (documentation, labels) in SCRAPED.items():
            family = GaugeMetricFamily(name, documentation, labels=list(labels))
            for reading in self.readings[name]:
                for values, value in reading():
                    family.add_metric(list(values), value)
            yield family


class Metrics:
    """One set of instruments in one registry (one per app, so tests never share state)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        histograms: dict[str, Histogram] = {}
        counters: dict[str, Counter] = {}
        for name, (documentation, labels, buckets) in INSTRUMENTS.items():
            if buckets is None:
                counters[name] = Counter(name, documentation, labels, registry=r)
            else:
                histograms[name] = Histogram(
                    name, documentation, labels, buckets=buckets, registry=r
                )
        self.http_duration = histograms["http_server_request_duration_seconds"]
        self.pool_wait = histograms["db_client_connection_wait_time_seconds"]
        self.pool_use = histograms["db_client_connection_use_time_seconds"]
        self.pool_timeouts = counters["db_client_connection_timeouts"]
        self.db_operation = histograms["db_client_operation_duration_seconds"]
        self.lock_wait = histograms["shop_lock_wait_duration_seconds"]
        self.lock_hold = histograms["shop_lock_hold_duration_seconds"]
        self.lock_lease_lost = counters["shop_lock_lease_lost"]
        self.lock_backend_errors = counters["shop_lock_backend_errors"]
        self.lock_wakeups = counters["shop_lock_wakeups"]
        self.loop_lag = histograms["shop_event_loop_lag_seconds"]
        self.admission_queue = histograms["shop_admission_queue_duration_seconds"]
        self.admission_refusals = counters["shop_admission_refusals"]
        self.orders = counters["shop_orders"]
        self.coupon_issues = counters["shop_coupon_issues"]
        self.balance_charges = counters["shop_balance_charges"]
        self.rate_limited = counters["shop_rate_limited"]
        self.rate_limit_errors = counters["shop_rate_limit_errors"]
        for policy in (USER, ADDRESS):  # exposed at zero, so the alert's query has data
            self.rate_limited.labels(policy)
            self.rate_limit_errors.labels(policy)
        # One series per switch, labelled with its current value (1 while away from normal),
        # so an annotation or an alert says what the switch was set to, not only that it was.
        self.incident_switch = Gauge(
            "shop_incident_switch",
            "1 while an incident switch is away from its normal value; `value` is its value",
            ["switch", "value"],
            registry=r,
        )
        self._switch_values: dict[str, str] = {}
        self.build_info = Gauge("shop_build_info", "Build of this process", ["version"], registry=r)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.child(self.build_info, __version__).set(1)
        self.readings = _Readings()
        r.register(self.readings)
        # CPU, memory, open fds (process_*), the interpreter (python_info) and its GC
        # (python_gc_*): saturation shows before the latency SLO burns. Each worker process has
        # its own registry and /metrics port, so these describe the process that serves them.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            r.register(collector)
        # In-flight requests per method: a plain Counter, read at scrape time.
        self.active: collections.Counter[str] = collections.Counter()
        self.read(
            # list() copies in one step: SHOP_METRICS_PORT's server reads this from its thread.
            "http_server_active_requests",
            lambda: [((m,), n) for m, n in list(self.active.items())],
        )

    def child(self, metric: MetricWrapperBase, *values: str) -> Any:
        """`metric.labels(*values)`, memoised: label sets are bounded and this is a hot path."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def switch_changed(self, name: str, value: object, on: bool) -> None:
        """Report switch `name` at `value`, replacing the series of its previous value."""
        text = str(value)
        previous = self._switch_values.get(name)
        if previous is not None and previous != text:
            self.incident_switch.remove(name, previous)
            self._children.pop((id(self.incident_switch), (name, previous)), None)
        self._switch_values[name] = text
        self.child(self.incident_switch, name, text).set(1 if on else 0)

    def read(self, name: str, reading: Reading) -> None:
        """Report gauge `name` (one of SCRAPED) from `reading` at every scrape."""
        self.readings.readings[name].append(reading)
