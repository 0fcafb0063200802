"""Event-loop lag: how late a timer fires tells how long something blocked the loop."""

from __future__ import annotations

import asyncio

from prometheus_client import Histogram

INTERVAL = 0.25


async def measure_loop_lag(histogram: Histogram, interval: float = INTERVAL) -> None:
    """Observe, forever, how late each `interval` sleep wakes up."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(interval)
        histogram.observe(max(0.0, loop.time() - started - interval))
