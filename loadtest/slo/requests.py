"""A run's requests (`<run dir>/requests/*.csv[.gz]`, written by `loadtest/traffic/samples.py`)
and what reports and comparisons take from them: per-second figures per request name, and the
slowest requests with their trace ids."""

from __future__ import annotations

import csv
import gzip
import io
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TOTAL = "Aggregated"  # locust's name for all requests together


@dataclass(frozen=True, slots=True)
class Request:
    t: float  # epoch seconds when it was sent
    name: str
    ms: float
    ok: bool
    trace_id: str
    sampled: bool


@dataclass(frozen=True, slots=True)
class Seconds:
    """One request name's figures per second of the run (seconds without requests: NaN)."""

    second: np.ndarray  # seconds since the run's first request
    count: np.ndarray
    failures: np.ndarray
    p50: np.ndarray
    p95: np.ndarray
    p99: np.ndarray


def _text(path: Path) -> str:
    data = path.read_bytes()
    return gzip.decompress(data).decode() if path.suffix == ".gz" else data.decode()


def read(run: Path) -> list[Request]:
    """Every request of the run (every locust process's file), in time order."""
    out: list[Request] = []
    for path in sorted((run / "requests").glob("*.csv*")):
        for row in csv.DictReader(io.StringIO(_text(path))):
            out.append(
                Request(
                    float(row["t"]),
                    row["name"],
                    float(row["ms"]),
                    row["ok"] == "1",
                    row.get("trace_id") or "",
                    row.get("sampled") == "1",
                )
            )
    out.sort(key=lambda r: r.t)
    return out


def per_second(requests: list[Request], start: float | None = None) -> dict[str, Seconds]:
    """Per request name (and TOTAL): count, failures and p50/p95/p99 of each whole second."""
    if not requests:
        return {}
    origin = requests[0].t if start is None else start
    last = int(requests[-1].t - origin)
    buckets: dict[str, list[list[Request]]] = defaultdict(lambda: [[] for _ in range(last + 1)])
    for r in requests:
        index = min(max(int(r.t - origin), 0), last)
        buckets[r.name][index].append(r)
        buckets[TOTAL][index].append(r)
    out = {}
    for name, seconds in buckets.items():
        times = [np.array([r.ms for r in s]) for s in seconds]
        pct = np.array([np.percentile(t, (50, 95, 99)) if len(t) else (np.nan,) * 3 for t in times])
        out[name] = Seconds(
            second=np.arange(last + 1, dtype=float),
            count=np.array([len(s) for s in seconds], dtype=float),
            failures=np.array([sum(not r.ok for r in s) for s in seconds], dtype=float),
            p50=pct[:, 0],
            p95=pct[:, 1],
            p99=pct[:, 2],
        )
    return out


def slowest(requests: list[Request], n: int = 10) -> list[Request]:
    """The n slowest requests, slowest first."""
    return sorted(requests, key=lambda r: r.ms, reverse=True)[:n]


def trace_link(request: Request, jaeger_url: str | None) -> str:
    """The trace id, as a Jaeger link when Jaeger is configured and the trace was sampled."""
    if not request.trace_id:
        return "–"
    if jaeger_url and request.sampled:
        return f"[`{request.trace_id}`]({jaeger_url.rstrip('/')}/trace/{request.trace_id})"
    return f"`{request.trace_id}`"
