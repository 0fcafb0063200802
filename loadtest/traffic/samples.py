"""Every request of a run, one line each, and the W3C trace context it was sent with.

Locust keeps percentiles and totals only; comparing two runs (`make loadtest-compare`), charting
percentiles per request name over time and naming the slowest requests need the requests
themselves. Each locust process (master or worker) appends `t,name,ms,ok,trace_id,sampled` to
`<run dir>/requests/<pid>.csv`; `loadtest/slo/requests.py` reads them back.

Each request carries a fresh `traceparent` whose sampled flag is set at `--trace-sample`, so the
shop (which follows its parent's decision) traces that share of the load, and a `baggage` entry
marking it synthetic: a trace from a load test never passes for a customer's.
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path
from typing import IO, Any

SYNTHETIC_BAGGAGE = "synthetic=load-test"
FIELDS = ("t", "name", "ms", "ok", "trace_id", "sampled")


def trace_headers(sample_rate: float) -> tuple[dict[str, str], str, bool]:
    """(headers, trace id, sampled) of one new root trace."""
    trace_id = f"{random.getrandbits(128) or 1:032x}"
    span_id = f"{random.getrandbits(64) or 1:016x}"
    sampled = random.random() < sample_rate
    headers = {
        "traceparent": f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}",
        "baggage": SYNTHETIC_BAGGAGE,
    }
    return headers, trace_id, sampled


class Recorder:
    """Appends one row per request to this process's file under `<run dir>/requests/`."""

    def __init__(self, run_dir: Path) -> None:
        directory = run_dir / "requests"
        directory.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = (directory / f"{os.getpid()}.csv").open("a", newline="")
        self._rows = csv.writer(self._file)
        if self._file.tell() == 0:
            self._rows.writerow(FIELDS)

    def on_request(
        self,
        name: str,
        response_time: float,
        exception: BaseException | None = None,
        context: dict[str, Any] | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        trace = context or {}
        self._rows.writerow(
            (
                f"{start_time or 0:.3f}",
                name,
                f"{response_time:.1f}",
                0 if exception else 1,
                trace.get("trace_id", ""),
                1 if trace.get("sampled") else 0,
            )
        )

    def flush(self, **_: Any) -> None:
        self._file.flush()


def install(environment: Any, run_dir: Path) -> Recorder:
    """Record every request of this locust process until it stops."""
    recorder = Recorder(run_dir)
    environment.events.request.add_listener(recorder.on_request)
    environment.events.test_stop.add_listener(recorder.flush)
    environment.events.quit.add_listener(recorder.flush)
    return recorder
