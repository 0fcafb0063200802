"""Runtime: which targets answer, event-loop lag, in-flight requests, builds and switches."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from panels import RATE, board, graph, states


def dashboard() -> Dashboard:
    """shop-runtime; alerts link to 1 (targets) and 2 (event-loop lag)."""
    return (
        board(
            "shop-runtime",
            "Shop: runtime",
            "Scrape targets, event-loop lag and load per replica, builds and incident switches.",
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
    )
