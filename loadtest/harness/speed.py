"""How busy this machine was for us: a fixed piece of CPU work timed every second while a run
lasts, its median kept in run.json. A hint for the reader of a report, not a correction: its
ratio between two runs did not follow the shop's figures (decision 0045)."""

from __future__ import annotations

import statistics
import time
from contextlib import AbstractContextManager

from loadtest.harness.processes import sampling

WORK = 100_000  # about 3 ms of one idle core


def probe_ms() -> float:
    """Wall time of the fixed work, in ms (it waits for a core like any other process)."""
    started = time.perf_counter()
    total = 0
    for i in range(WORK):
        total += i * i
    return (time.perf_counter() - started) * 1000


def probing(interval: float = 1.0) -> AbstractContextManager[list[float]]:
    """Probe every `interval` seconds while the block runs; the readings (ms) fill the list."""
    return sampling(probe_ms, interval)


def median(readings: list[float]) -> float | None:
    return round(statistics.median(readings), 3) if readings else None
