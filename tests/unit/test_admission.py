"""The admission gate and its gradient limit, without a server: pure arithmetic and futures."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from shop.admission.gate import LATE, QUEUE_FULL, QUEUE_TIMEOUT, Gate, Priority, Shed
from shop.admission.limit import GradientLimit

_HOURS = itertools.count(0, 3600)


def _windows(
    limit: GradientLimit, *, latency: float, count: int, in_flight: int | None = None
) -> None:
    """`count` full windows at one latency, `in_flight` requests (default: the whole limit)."""
    now = next(_HOURS)  # each call's windows start later than the last call's
    for _ in range(count):
        busy = limit.current if in_flight is None else in_flight
        for _ in range(limit.min_samples):
            limit.sample(now=now, latency=latency, in_flight=busy)
        now += limit.window
        limit.sample(now=now, latency=latency, in_flight=busy)


def test_limit_grows_while_latency_holds() -> None:
    limit = GradientLimit(initial=10, min_limit=2, max_limit=100)
    _windows(limit, latency=0.01, count=20)
    assert limit.current > 20


def test_limit_shrinks_when_latency_climbs_past_tolerance() -> None:
    limit = GradientLimit(initial=50, min_limit=2, max_limit=100)
    _windows(limit, latency=0.01, count=3)
    before = limit.current
    _windows(limit, latency=0.1, count=20)
    assert limit.current < before / 2


def test_limit_learns_nothing_from_idle_windows() -> None:
    limit = GradientLimit(initial=40, min_limit=2, max_limit=100)
    _windows(limit, latency=0.01, in_flight=3, count=20)
    assert limit.current == 40


def test_limit_stays_within_its_bounds() -> None:
    limit = GradientLimit(initial=10, min_limit=5, max_limit=12)
    _windows(limit, latency=0.01, count=50)
    assert limit.current == 12
    _windows(limit, latency=1.0, count=50)
    assert limit.current == 5
    with pytest.raises(ValueError, match="limits must"):
        GradientLimit(initial=1, min_limit=2, max_limit=3)


def _gate(limit: int, *, interval: float = 0.05, target: float = 0.005) -> Gate:
    fixed = GradientLimit(initial=limit, min_limit=limit, max_limit=limit)
    return Gate(fixed, clock=time.monotonic, interval=interval, target=target)


async def test_admits_up_to_the_limit_then_queues_then_times_out() -> None:
    gate = _gate(2)
    for _ in range(2):
        await gate.enter(Priority.CRITICAL)
    started = time.monotonic()
    with pytest.raises(Shed) as shed:
        await gate.enter(Priority.CRITICAL)
    assert shed.value.reason == QUEUE_TIMEOUT
    assert 0.04 < time.monotonic() - started < 0.5
    assert (gate.in_flight, gate.waiting) == (2, 0)


async def test_a_freed_slot_goes_to_a_waiter() -> None:
    # Deadlines far past the test's 10 ms pause: on a busy machine that pause alone outlasted
    # the default 50 ms interval, and the waiter timed out before the slot was freed.
    gate = _gate(1, interval=5.0, target=5.0)
    await gate.enter(Priority.CRITICAL)
    waiter = asyncio.create_task(gate.enter(Priority.CRITICAL))
    await asyncio.sleep(0.01)
    assert gate.waiting == 1
    gate.leave(started=time.monotonic())
    assert await waiter >= 0.0
    assert (gate.in_flight, gate.waiting) == (1, 0)


async def test_the_queue_is_bounded_by_the_limit() -> None:
    gate = _gate(2)
    for _ in range(2):
        await gate.enter(Priority.CRITICAL)
    waiters = [asyncio.create_task(gate.enter(Priority.CRITICAL)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Shed) as shed:
        await gate.enter(Priority.CRITICAL)
    assert shed.value.reason == QUEUE_FULL
    for task in waiters:
        with pytest.raises(Shed):
            await task


async def test_a_request_that_already_waited_past_the_deadline_is_refused_at_once() -> None:
    gate = _gate(10)
    with pytest.raises(Shed) as shed:
        await gate.enter(Priority.CRITICAL, waited=0.2)
    assert shed.value.reason == LATE
    assert gate.in_flight == 0


async def test_reads_leave_the_last_quarter_to_writes() -> None:
    gate = _gate(4)
    for _ in range(3):
        await gate.enter(Priority.SHEDDABLE)
    with pytest.raises(Shed):
        await gate.enter(Priority.SHEDDABLE)
    await gate.enter(Priority.CRITICAL)
    assert gate.in_flight == 4


async def test_a_freed_slot_goes_to_the_highest_priority_waiting() -> None:
    gate = _gate(2, interval=1.0)
    for _ in range(2):
        await gate.enter(Priority.CRITICAL)
    read = asyncio.create_task(gate.enter(Priority.SHEDDABLE))
    await asyncio.sleep(0)
    order = asyncio.create_task(gate.enter(Priority.CRITICAL))
    await asyncio.sleep(0)
    gate.leave(started=time.monotonic())
    await order
    assert not read.done()
    gate.leave(started=time.monotonic())
    gate.leave(started=time.monotonic())
    await read


async def test_under_overload_the_newest_waiter_goes_first_and_waits_only_the_target() -> None:
    gate = _gate(2, interval=0.4, target=0.1)
    for _ in range(2):
        await gate.enter(Priority.CRITICAL)
    oldest = asyncio.create_task(gate.enter(Priority.CRITICAL))
    await asyncio.sleep(0.2)
    older = asyncio.create_task(gate.enter(Priority.CRITICAL))
    await asyncio.sleep(0.22)  # the oldest timed out; the queue has not emptied for 0.4 s
    assert gate.overloaded(time.monotonic())
    newest = asyncio.create_task(gate.enter(Priority.CRITICAL))
    await asyncio.sleep(0.01)
    gate.leave(started=time.monotonic())
    await newest
    assert not older.done()
    started = time.monotonic()
    with pytest.raises(Shed):
        await gate.enter(Priority.CRITICAL)
    assert time.monotonic() - started < 0.3  # the target, not the interval
    for task in (oldest, older):
        with pytest.raises(Shed):
            await task


async def test_a_client_leaving_while_queued_frees_its_place() -> None:
    gate = _gate(1, interval=1.0)
    await gate.enter(Priority.CRITICAL)
    waiter = asyncio.create_task(gate.enter(Priority.CRITICAL))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert gate.waiting == 0
    gate.leave(started=time.monotonic())
    assert gate.in_flight == 0
