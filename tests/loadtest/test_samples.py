"""Each locust request's W3C trace context (loadtest/traffic/samples.py)."""

from __future__ import annotations

import re

from loadtest.traffic import samples

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$")


def test_each_request_starts_its_own_trace_and_says_it_is_synthetic() -> None:
    headers, trace_id, sampled = samples.trace_headers(1.0)
    match = TRACEPARENT.match(headers["traceparent"])
    assert match is not None
    assert match.group(1) == trace_id
    assert match.group(3) == "01"
    assert sampled
    assert headers["baggage"] == "synthetic=load-test"
    assert samples.trace_headers(1.0)[1] != trace_id


def test_sampled_at_the_chosen_rate() -> None:
    draws = [samples.trace_headers(0.1) for _ in range(20_000)]
    share = sum(sampled for _, _, sampled in draws) / len(draws)
    assert 0.09 < share < 0.11
    flags = {h["traceparent"][-2:] for h, _, sampled in draws if not sampled}
    assert flags == {"00"}
    assert not any(samples.trace_headers(0.0)[2] for _ in range(1_000))
