"""Runtime: targets, event-loop lag, in-flight requests, builds, switches, admission control."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from panels import RATE, board, graph, states


def dashboard() -> Dashboard:
    """shop-runtime; alerts link to 1 (targets), 2 (event-loop lag) and 8 (shedding)."""
    return (
        board(
            "shop-runtime",
            "Shop: runtime",
            "Scrape targets, event-loop lag and load per replica, builds, incident switches and"
            " the admission gate (limit, queue, refusals).",
        )
        .with_panel(
            states(
                1,
                "Targets up",
                [
                    ("up", "{{job}} {{instance}}"),
                    ("mysql_up", "MySQL"),
                    ("redis_up", "Redis"),
                ],
                description="1 = scraped (and, for the exporters, the datastore answers).",
            )
        )
        .with_panel(
            graph(
                2,
                "Event-loop lag",
                "s",
                [
                    (
                        f"histogram_quantile(0.99, sum by (instance, le) "
                        f'(rate(shop_event_loop_lag_seconds_bucket{{job="shop"}}[{RATE}])))',
                        "{{instance}} p99",
                    )
                ],
                description="How late each replica's loop runs a timer: blocking code shows here.",
            )
        )
        .with_panel(
            graph(
                3,
                "Requests in flight",
                "short",
                [("sum by (instance) (http_server_active_requests)", "{{instance}}")],
                description="Requests each replica is serving.",
            )
        )
        .with_panel(
            graph(
                4,
                "Scrape duration",
                "s",
                [('scrape_duration_seconds{job=~"shop|mysqld|redis"}', "{{job}} {{instance}}")],
                description="Time to collect each target's metrics.",
            )
        )
        .with_panel(
            graph(
                5,
                "Builds",
                "short",
                [("count by (version) (shop_build_info)", "{{version}}")],
                description="Replicas per version (two lines during a rollout).",
            )
        )
        .with_panel(
            states(
                6,
                "Incident switches",
                [("max by (switch) (shop_incident_switch)", "{{switch}}")],
                description="1 while a switch is away from its normal value on any replica.",
            )
        )
        .with_panel(
            graph(
                7,
                "Admission: limit, in flight, queued",
                "short",
                [
                    ("sum by (instance) (shop_admission_limit)", "{{instance}} limit"),
                    ("sum by (instance) (shop_admission_in_flight)", "{{instance}} in flight"),
                    ("sum by (instance) (shop_admission_queued)", "{{instance}} queued"),
                ],
                description="The adaptive concurrency limit and what fills it (SHOP_ADMISSION=on):"
                " in flight pinned at the limit with a queue is a shop at capacity.",
            )
        )
        .with_panel(
            graph(
                8,
                "Admission: refusals (503 OVERLOADED) by reason and route",
                "reqps",
                [
                    (
                        "sum by (reason, http_route) "
                        f'(rate(shop_admission_refusals_total{{job="shop"}}[{RATE}]))',
                        "{{reason}} {{http_route}}",
                    )
                ],
                description="Requests shed at the front door: queue_full (the queue is as long"
                " as the limit), queue_timeout (waited past the deadline), late (waited past it"
                " before reaching the gate: a busy event loop).",
            )
        )
        .with_panel(
            graph(
                9,
                "Admission: p99 queue time by priority",
                "s",
                [
                    (
                        "histogram_quantile(0.99, sum by (priority, decision, le) "
                        f'(rate(shop_admission_queue_duration_seconds_bucket{{job="shop"}}[{RATE}])))',
                        "{{priority}} {{decision}}",
                    )
                ],
                description="Time before the gate decided: 100 ms at most while the queue drains,"
                " 5 ms once it has not emptied for 100 ms.",
            )
        )
    )
