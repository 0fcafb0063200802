"""How busy this machine was for us: a fixed piece of CPU work timed every second while a run
lasts, its median kept in run.json. A hint for the reader of a report, not a correction: its
ratio between two runs did not follow the shop's figures (decision 0045)."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

WORK = 100_000  # about 3 ms of one idle core


def probe_ms() -> float:
    """Wall time of the fixed work, in ms (it waits for a core like any other process)."""
    started = time.perf_counter()
    total = 0
    for i in range(WORK):
        total += i * i
    return (time.perf_counter() - started) * 1000


@contextmanager
def probing(interval: float = 1.0) -> Iterator[list[float]]:
    """Probe every `interval` seconds while the block runs; the readings (ms) fill the list."""
    readings: list[float] = []
    stopped = threading.Event()

    def loop() -> None:
        while not stopped.wait(interval):
            readings.append(probe_ms())

    thread = threading.Thread(target=loop, name="speed-probe", daemon=True)
    thread.start()
    try:
        yield readings
    finally:
        stopped.set()
        thread.join()


def median(readings: list[float]) -> float | None:
    return round(statistics.median(readings), 3) if readings else None
