from __future__ import annotations

import pytest

from .promql_names import metric_names


def test_names_skip_functions_labels_keywords_and_windows() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (lock_name, le) "
        "(rate(shop_lock_wait_duration_seconds_bucket"
        '{job="shop", outcome=~"a|b"}[$__rate_interval]))) or vector(0)'
        " / on (job) group_left job:shop_http_errors:ratio_rate5m > bool 0.5"
    )
    assert metric_names(expr) == {
        "shop_lock_wait_duration_seconds_bucket",
        "job:shop_http_errors:ratio_rate5m",
    }


def test_bare_selectors_are_names() -> None:
    assert metric_names("up") == {"up"}
    assert metric_names('ALERTS{alertstate="firing"}') == {"ALERTS"}


def test_invalid_promql_is_refused() -> None:
    with pytest.raises(ValueError, match="parenthesis"):
        metric_names("sum by (le (rate(x[5m]))")
