"""Incident timeline: load → traffic and errors → latency → locks → pool → timeouts → loop lag,
on one shared time axis, with alert and incident-switch annotations."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from panels import RATE, SWITCH, Graph, board, latency, layout, p99, row, states, summed

H = "http_server_request_duration_seconds"
SHOP = 'job="shop", http_route!~"/metrics|/healthz|/readyz"'


def dashboard() -> Dashboard:
    """shop-incident-timeline: full-width panels stacked top to bottom, cause below effect."""
    return layout(
        board(
            "shop-incident-timeline",
            "Shop: incident timeline",
            "One time axis from the load generator down to the event loop; alerts, incident "
            "switches, deploys and load tests are marked on every panel.",
        ),
        row(100, "Load and what the shop answered"),
        Graph(1, "Load: locust users and requests", "short")
        .plot(("sum(locust_users)", "users"))
        .right("reqps", (f"sum(rate(locust_requests_total[{RATE}]))", "requests/s sent"))
        .description(
            "What the load generator does (empty outside a load test): users on the left, "
            "requests per second on the right."
        ),
        Graph(2, "Shop requests and errors", "reqps")
        .plot(
            (f"sum(rate({H}_count{{{SHOP}}}[{RATE}]))", "answered/s"),
            (
                f'sum(rate({H}_count{{{SHOP}, http_response_status_code=~"4.."}}[{RATE}]))'
                f" or vector(0)",
                "4xx/s",
            ),
            (
                f'sum(rate({H}_count{{{SHOP}, http_response_status_code=~"5.."}}[{RATE}]))'
                f" or vector(0)",
                "5xx/s",
            ),
        )
        .description("Throughput and rejections as the shop saw them."),
        row(101, "Latency, then its causes: locks, pools, timeouts, the event loop"),
        latency(3, "p99 duration")
        .plot(p99(H, "http_route", SHOP))
        .description("Slowest 1 % per route; points link to their traces."),
        Graph(4, "Lock waiters and wait p99", "short")
        .plot(
            summed("lock_name", "shop_lock_waiters", 'job="shop"', legend="{{lock_name}} waiters")
        )
        .right(
            "s",
            p99(
                "shop_lock_wait_duration_seconds",
                "lock_name",
                'job="shop"',
                legend="{{lock_name}} wait p99 (s)",
            ),
        )
        .description("Requests queued per lock (left), and how long the slowest waited (right).")
        .exemplars(),
        Graph(5, "Pool pending and used / max", "short")
        .plot(
            summed(
                "pool",
                "db_client_connection_pending_requests",
                'job="shop"',
                legend="{{pool}} pending",
            )
        )
        .right(
            "percentunit",
            (
                'sum by (pool) (db_client_connection_count{job="shop", state="used"})'
                ' / sum by (pool) (db_client_connection_max{job="shop"})',
                "{{pool}} used / max",
            ),
        )
        .description(
            "Requests queued for a connection (left), and the share of the pool lent out (right)."
        ),
        Graph(6, "Timeouts", "ops")
        .plot(
            (
                f'sum(rate(db_client_connection_timeouts_total{{job="shop"}}[{RATE}]))',
                "pool acquire timeouts/s",
            ),
            (
                f"sum(rate(shop_lock_wait_duration_seconds_count"
                f'{{job="shop", outcome="timeout"}}[{RATE}])) or vector(0)',
                "lock timeouts/s",
            ),
        )
        .description("Requests that gave up waiting (503 DB001, 409 LOCK001)."),
        Graph(7, "Event-loop lag p99", "s")
        .plot(p99("shop_event_loop_lag_seconds", "instance", 'job="shop"'))
        .description("How late each replica's event loop runs."),
        states(
            8,
            "Incident switches",
            [("max by (switch, value) (shop_incident_switch)", "{{switch}} = {{value}}")],
            description="Which failure was switched on, to which value, and when.",
            mapping=SWITCH,
        ),
        width=24,
        height=6,
    )
