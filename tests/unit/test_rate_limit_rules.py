"""GCRA, the per-client limit: a burst is admitted, then one request per interval."""

from __future__ import annotations

import pytest

from shop.domain.rate_limits import (
    Decision,
    InProcessRateLimiter,
    Policy,
    RememberedRefusals,
    gcra,
)

POLICY = Policy("address", rate=10.0, burst=5)


def test_a_burst_is_admitted_then_refused_until_an_interval_passes() -> None:
    tat = None
    remaining = []
    for _ in range(POLICY.burst):
        tat, decision = gcra(tat, 100.0, POLICY)
        assert decision.allowed
        remaining.append(decision.remaining)
    assert remaining == [4, 3, 2, 1, 0]
    stored, refused = gcra(tat, 100.0, POLICY)
    assert (stored, refused.allowed) == (None, False)
    assert refused.retry_after == pytest.approx(POLICY.interval)
    assert refused.reset == pytest.approx(POLICY.window)
    assert not gcra(tat, 100.0 + POLICY.interval * 0.9, POLICY)[1].allowed
    assert gcra(tat, 100.0 + POLICY.interval, POLICY)[1].allowed


def test_a_steady_client_at_the_rate_is_never_refused() -> None:
    tat = None
    for n in range(1000):
        tat, decision = gcra(tat, n * POLICY.interval, POLICY)
        assert decision.allowed


def test_an_idle_client_gets_its_whole_burst_back() -> None:
    tat = None
    for _ in range(POLICY.burst):
        tat, _ = gcra(tat, 0.0, POLICY)
    _, decision = gcra(tat, POLICY.window, POLICY)
    assert (decision.allowed, decision.remaining) == (True, POLICY.burst - 1)


async def test_clients_have_budgets_of_their_own_and_idle_ones_are_forgotten() -> None:
    limiter = InProcessRateLimiter()
    limiter.MAX_CLIENTS = 3
    for _ in range(POLICY.burst):
        assert (await limiter.admit("a", POLICY, 0.0)).allowed
    assert not (await limiter.admit("a", POLICY, 0.0)).allowed
    assert (await limiter.admit("b", POLICY, 0.0)).allowed
    await limiter.admit("c", POLICY, 0.0)
    await limiter.admit("d", POLICY, 10.0)  # over MAX_CLIENTS: a, b and c have full buckets
    assert set(limiter._tats) == {"d"}


async def test_a_refusal_is_remembered_until_its_retry_time() -> None:
    asked = []

    class Counting(InProcessRateLimiter):
        async def admit(self, key: str, policy: Policy, now: float) -> Decision:
            asked.append(now)
            return await super().admit(key, policy, now)

    limiter = RememberedRefusals(Counting())
    for _ in range(POLICY.burst):
        assert (await limiter.admit("a", POLICY, 0.0)).allowed
    first = await limiter.admit("a", POLICY, 0.0)
    later = await limiter.admit("a", POLICY, POLICY.interval / 2)
    assert (first.allowed, later.allowed) == (False, False)
    assert later.retry_after == pytest.approx(POLICY.interval / 2)
    assert len(asked) == POLICY.burst + 1  # the second refusal was not asked for
    assert (await limiter.admit("a", POLICY, POLICY.interval)).allowed
    assert len(asked) == POLICY.burst + 2
