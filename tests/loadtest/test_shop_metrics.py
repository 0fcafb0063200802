# ruff: noqa: E501 (exposition lines are quoted whole)
"""The Shop tab's numbers from two readings of the replicas' /metrics."""

from __future__ import annotations

import pytest

from loadtest.traffic.exporter import buckets
from loadtest.traffic.shop_metrics import Watch, flatten, quantile

BEFORE = """
# TYPE shop_lock_wait_duration_seconds histogram
shop_lock_wait_duration_seconds_bucket{lock_name="order",backend="local",outcome="acquired",le="0.1"} 0
shop_lock_wait_duration_seconds_bucket{lock_name="order",backend="local",outcome="acquired",le="1.0"} 0
shop_lock_wait_duration_seconds_bucket{lock_name="order",backend="local",outcome="acquired",le="+Inf"} 0
shop_lock_wait_duration_seconds_count{lock_name="order",backend="local",outcome="acquired"} 0
shop_lock_wait_duration_seconds_sum{lock_name="order",backend="local",outcome="acquired"} 0
# TYPE shop_orders counter
shop_orders_total{outcome="success"} 10
shop_orders_total{outcome="PAY001"} 1
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_count{http_request_method="POST",http_route="/api/orders",http_response_status_code="503"} 2
# TYPE db_client_connection_count gauge
db_client_connection_count{pool="main",state="used"} 3
db_client_connection_count{pool="main",state="idle"} 1
# TYPE db_client_connection_max gauge
db_client_connection_max{pool="main"} 10
# TYPE shop_incident_switch gauge
shop_incident_switch{switch="order_lock_scope"} 0
"""


def _after(waits: tuple[int, int, int], pay: int, fivexx: int, switch: int) -> str:
    return (
        BEFORE.replace('le="0.1"} 0', f'le="0.1"}} {waits[0]}')
        .replace('le="1.0"} 0', f'le="1.0"}} {waits[1]}')
        .replace('le="+Inf"} 0', f'le="+Inf"}} {waits[2]}')
        .replace('outcome="PAY001"} 1', f'outcome="PAY001"}} {pay}')
        .replace('"503"} 2', f'"503"}} {fivexx}')
        .replace('switch="order_lock_scope"} 0', f'switch="order_lock_scope"}} {switch}')
    )


def test_quantile_interpolates_like_prometheus() -> None:
    assert quantile(0.5, {0.1: 50, 1.0: 100, float("inf"): 100}) == pytest.approx(0.1)
    assert quantile(0.99, {0.1: 0, 1.0: 100, float("inf"): 100}) == pytest.approx(0.991)
    assert quantile(0.99, {0.1: 0, float("inf"): 0}) is None


def test_rates_and_window_quantiles_summed_over_replicas() -> None:
    watch = Watch(["a", "b"])
    first = watch.sample(100.0, {"a": flatten(BEFORE), "b": flatten(BEFORE)})
    assert first["lock_wait_p99"] == {"order": None}
    assert first["pool_used"] == {"main": 6.0}
    assert first["pool_max"] == {"main": 20.0}
    point = watch.sample(
        102.0,
        {"a": flatten(_after((0, 100, 100), 5, 6, 1)), "b": None},
    )
    assert point["replicas_up"] == 1
    assert point["lock_wait_p99"]["order"] == pytest.approx(0.991)
    assert point["shop_rejections"] == {"PAY001": 2.0}  # 4 in 2 s
    assert point["http_5xx"] == 2.0
    assert point["switches"] == ["order_lock_scope"]


def test_counter_reset_counts_from_zero() -> None:
    watch = Watch(["a"])
    watch.sample(0.0, {"a": flatten(_after((0, 0, 0), 9, 2, 0))})
    point = watch.sample(1.0, {"a": flatten(_after((0, 0, 0), 3, 2, 0))})
    assert point["shop_rejections"] == {"PAY001": 3.0}


def test_locust_histogram_uses_cumulative_http_buckets() -> None:
    out = dict(buckets({4: 2, 7: 1, 30_000: 1}))
    assert out["0.005"] == 2
    assert out["0.01"] == 3
    assert out["10.0"] == 3
    assert out["+Inf"] == 4


def test_no_answer_is_a_gap_not_all_clear() -> None:
    watch = Watch(["a"])
    point = watch.sample(0.0, {"a": None})
    assert point["replicas_up"] == 0
    assert point["switches"] is None
