"""Service overview: RED per route, and the SLOs' budget and burn rates."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from panels import RATE, board, graph, number

H = "http_server_request_duration_seconds"
SHOP = 'job="shop", http_route!~"/metrics|/healthz|/readyz"'
WINDOWS = ("5m", "30m", "1h", "6h", "3d")


def dashboard() -> Dashboard:
    """shop-overview; panels 5 and 6 are the SLO alerts' links."""
    errors_5xx = f'{SHOP}, http_response_status_code=~"5.."'
    return (
        board(
            "shop-overview",
            "Shop: service overview",
            "Requests, errors and duration per route; SLO budgets (99.9 % available, "
            "99 % within 500 ms) and their burn rates.",
        )
        .with_panel(
            graph(
                1,
                "Requests per second by route",
                "reqps",
                [(f"sum by (http_route) (rate({H}_count{{{SHOP}}}[{RATE}]))", "{{http_route}}")],
                description="Rate of answered requests per route template.",
            )
        )
        .with_panel(
            graph(
                2,
                "5xx share by route",
                "percentunit",
                [
                    (
                        f"(sum by (http_route) (rate({H}_count{{{errors_5xx}}}[{RATE}]))"
                        f" or sum by (http_route) (rate({H}_count{{{SHOP}}}[{RATE}])) * 0)"
                        f" / sum by (http_route) (rate({H}_count{{{SHOP}}}[{RATE}]))",
                        "{{http_route}}",
                    )
                ],
                description="Share of requests answered 5xx (503 overload, DB001, LOCK002 ...).",
            )
        )
        .with_panel(
            graph(
                3,
                "p99 duration by route",
                "s",
                [
                    (
                        f"histogram_quantile(0.99, sum by (http_route, le) "
                        f"(rate({H}_bucket{{{SHOP}}}[{RATE}])))",
                        "{{http_route}}",
                    )
                ],
                description="99th percentile of request duration; points link to slow traces.",
                exemplars=True,
            )
        )
        .with_panel(
            graph(
                4,
                "Responses by status code",
                "reqps",
                [
                    (
                        f"sum by (http_response_status_code) (rate({H}_count{{{SHOP}}}[{RATE}]))",
                        "{{http_response_status_code}}",
                    )
                ],
                description="409 and 4xx are business rejections; 5xx spend the error budget.",
            )
        )
        .with_panel(
            graph(
                5,
                "Availability burn rate",
                "x",
                [(f"job:shop_http_errors:ratio_rate{w} / 0.001", w) for w in WINDOWS],
                description="Error budget burn rate per window (1 = the budget lasts 30 days); "
                "pages at 14.4 (1h and 5m) and 6 (6h and 30m), ticket at 1 (3d and 6h).",
            )
        )
        .with_panel(
            graph(
                6,
                "Latency burn rate",
                "x",
                [(f"job:shop_http_slow:ratio_rate{w} / 0.01", w) for w in WINDOWS],
                description="Burn rate of the 99 % < 500 ms budget per window; same thresholds.",
            )
        )
        .with_panel(
            number(
                7,
                "Availability budget left (3d)",
                "percentunit",
                [("1 - job:shop_http_errors:ratio_rate3d / 0.001", "budget")],
                description="Share of the 0.1 % error budget not spent over the last 3 days.",
            )
        )
        .with_panel(
            number(
                8,
                "Latency budget left (3d)",
                "percentunit",
                [("1 - job:shop_http_slow:ratio_rate3d / 0.01", "budget")],
                description="Share of the 1 % slow-request budget not spent over the last 3 days.",
            )
        )
        .with_panel(
            graph(
                9,
                "Business outcomes",
                "ops",
                [
                    (f"sum by (outcome) (rate(shop_orders_total[{RATE}]))", "order {{outcome}}"),
                    (
                        f"sum by (outcome) (rate(shop_coupon_issues_total[{RATE}]))",
                        "coupon {{outcome}}",
                    ),
                    (
                        f"sum by (outcome) (rate(shop_balance_charges_total[{RATE}]))",
                        "charge {{outcome}}",
                    ),
                ],
                description="Orders, coupon issues and charges by outcome (success or error code).",
            )
        )
        .with_panel(
            graph(
                10,
                "Requests in flight",
                "short",
                [("sum by (instance) (http_server_active_requests)", "{{instance}}")],
                description="Requests being served per replica right now.",
            )
        )
    )
