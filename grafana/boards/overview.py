"""Service overview: the SLOs' 30-day budgets and burn rates first (from the SLO spec,
observability/slo/slos.yml), then RED per route, then business outcomes."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

import spec
from panels import (
    INSTANCE,
    RATE,
    ROUTE,
    Graph,
    board,
    latency,
    layout,
    number,
    p99,
    per,
    row,
    summed,
)

H = "http_server_request_duration_seconds"
SHOP = 'job="shop", http_route!~"/metrics|/healthz|/readyz", http_route=~"$route"'
BY_INSTANCE = 'instance=~"$instance"'
# Budget left: red when overspent, then orange, yellow, green as more is left.
BUDGET = ("red", [(0.0, "orange"), (0.25, "yellow"), (0.5, "green")])


def dashboard() -> Dashboard:
    """shop-overview; each SLO's alerts link to its burn-rate panel (5, 6 and 13)."""
    slos = spec.load()
    errors_5xx = f'{SHOP}, {BY_INSTANCE}, http_response_status_code=~"5.."'
    scoped = f"{SHOP}, {BY_INSTANCE}"
    # The burn rates the alerts fire at: pages in red, tickets in orange.
    burns = sorted(
        (float(w.burn), "red" if w.severity == "page" else "orange") for w in slos.windows
    )
    return layout(
        board(
            "shop-overview",
            "Shop: service overview",
            "; ".join(s.description for s in slos.slos)
            + " Budgets over 30 days, burn rates, then requests, errors and duration per route.",
            (INSTANCE, ROUTE),
        ),
        row(100, "Error budgets (30 days): what is left of each SLO's budget"),
        *(
            number(
                slo.budget_panel,
                f"{slo.name.capitalize()} budget left (30d)",
                "percentunit",
                [(slo.budget_left(slos.period), "budget left")],
                description=f"{slo.description} Share of the {spec.number(slo.budget)} error "
                "budget of the last 30 days not spent: 100 % = untouched, 0 = spent, below 0 = "
                "overspent (stop releases).",
                colours=BUDGET,
                width=4,
                height=6,
            )
            for slo in slos.slos
        ),
        Graph(15, "Error budget burn-down (30 days)", "percentunit")
        .plot(*((s.budget_left(slos.period), s.name) for s in slos.slos))
        .description(
            "Budget left of each SLO over time: a steady slope spends it in 30 days; a cliff "
            "is an incident. Below the red line the budget is overspent."
        )
        .line(0, "red")
        .size(12, 6),
        row(101, "Burn rates (1 = spends the budget in 30 days; pages at 14.4 and 6)"),
        *(
            Graph(slo.panel, f"{slo.name.capitalize()} burn rate", "x")
            .plot(
                *((f"{slo.ratio(w)} / {spec.number(slo.budget)}", w) for w in slos.record_windows)
            )
            .description(
                f"{slo.description} Burn rate per window (1 = the budget lasts 30 days); pages "
                "at 14.4 (1h and 5m) and 6 (6h and 30m), ticket at 1 (3d and 6h)."
            )
            .lines(burns)
            .size(8)
            for slo in slos.slos
        ),
        row(102, "Traffic by route (rate, errors, duration)"),
        Graph(1, "Requests per second by route", "reqps")
        .plot(per("http_route", f"{H}_count", scoped))
        .description("Rate of answered requests per route template."),
        Graph(2, "5xx share by route", "percentunit")
        .plot(
            (
                f"(sum by (http_route) (rate({H}_count{{{errors_5xx}}}[{RATE}]))"
                f" or sum by (http_route) (rate({H}_count{{{scoped}}}[{RATE}])) * 0)"
                f" / sum by (http_route) (rate({H}_count{{{scoped}}}[{RATE}]))",
                "{{http_route}}",
            )
        )
        .description(
            "Share of requests answered 5xx (503 overload, DB001, LOCK002 ...); the line is "
            "the availability objective's 0.1 %."
        )
        .line(0.001, "red"),
        latency(3, "p99 duration by route")
        .plot(p99(H, "http_route", scoped))
        .description(
            "99th percentile of request duration; points link to slow traces. The line is "
            "the latency objective's 500 ms."
        )
        .line(0.5, "red"),
        Graph(4, "Responses by status code", "reqps")
        .plot(per("http_response_status_code", f"{H}_count", scoped))
        .description("409 and 4xx are business rejections; 5xx spend the error budget."),
        row(103, "Business outcomes and load"),
        Graph(9, "Business outcomes", "ops")
        .plot(
            per("outcome", "shop_orders_total", BY_INSTANCE, legend="order {{outcome}}"),
            per("outcome", "shop_coupon_issues_total", BY_INSTANCE, legend="coupon {{outcome}}"),
            per("outcome", "shop_balance_charges_total", BY_INSTANCE, legend="charge {{outcome}}"),
        )
        .description(
            "Orders, coupon issues and charges by outcome (success or error code); order "
            "LOCK001 spends the checkout budget."
        ),
        Graph(10, "Requests in flight", "short")
        .plot(summed("instance", "http_server_active_requests", BY_INSTANCE))
        .description("Requests being served per replica right now."),
    )
