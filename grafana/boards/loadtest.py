"""Load test: locust's own numbers (users, requests, failures, rejections, latency) next to the
shop's view of the same routes."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from panels import Graph, board, layout, p99, per, row

H = "http_server_request_duration_seconds"


def dashboard() -> Dashboard:
    """shop-loadtest; request names are the shop's route templates, so the two sides join."""
    return layout(
        board(
            "shop-loadtest",
            "Shop: load test",
            "What locust sends and sees, per request name, beside what the shop measured.",
        ),
        row(100, "What locust sends and sees"),
        Graph(1, "Users and workers", "short")
        .plot(("sum(locust_users)", "users"), ("sum(locust_workers)", "workers"))
        .description("Simulated users running, and connected workers (0 in local mode)."),
        Graph(2, "Requests per second by name", "reqps")
        .plot(per("name", "locust_requests_total"))
        .description("Requests locust sent per request name."),
        Graph(3, "Failures per second by name", "reqps")
        .plot(per("name", "locust_failures_total"))
        .description("Requests locust counted as failed (5xx, timeouts, wrong answers)."),
        Graph(4, "Rejections by code", "reqps")
        .plot(per("code", "locust_rejections_total"))
        .description(
            "Business rejections the scenario expects (sold out, duplicate, LOCK001 ...)."
        ),
        row(101, "Latency (locust beside the shop) and the scenario"),
        Graph(5, "p99 seen by locust vs by the shop", "s")
        .plot(
            p99("locust_request_duration_seconds", "name", legend="locust {{name}}"),
            p99(
                H,
                "http_route",
                'job="shop", http_route!~"/metrics|/healthz|/readyz"',
                legend="shop {{http_route}}",
            ),
        )
        .description("The gap between the two is the network and the client's queueing.")
        .size(24),
        Graph(6, "Scenario", "short")
        .plot(("max by (scenario, shape) (locust_scenario_info)", "{{scenario}} {{shape}}"))
        .description("1 while a scenario runs, with its load shape.")
        .size(24, 5),
    )
