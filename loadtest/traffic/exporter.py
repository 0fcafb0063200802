"""Locust's own stats as Prometheus metrics, served by the master at `/metrics`.

Names and labels are the ones docs/operations.md lists, so Grafana stacks load on top of the
shop's panels. Everything is read at scrape time from locust's aggregated stats (which on a
master already include every worker's reports): nothing is counted twice on the hot path.
Durations reuse the shop's HTTP buckets, so a locust p99 and a shop p99 are read off the same
edges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from loadtest.traffic import rejections
from shop.telemetry.metrics import HTTP_BUCKETS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def buckets(response_times: Mapping[int, int]) -> list[tuple[str, float]]:
    """Cumulative histogram buckets (seconds) from locust's {rounded ms: count} table."""
    edges = [*HTTP_BUCKETS, float("inf")]
    counts = [0] * len(edges)
    for millis, n in response_times.items():
        seconds = millis / 1000
        for i, edge in enumerate(edges):
            if seconds <= edge:
                counts[i] += n
                break
    out: list[tuple[str, float]] = []
    running = 0
    for edge, n in zip(edges, counts, strict=True):
        running += n
        out.append(("+Inf" if edge == float("inf") else repr(edge), running))
    return out


class LocustCollector(Collector):
    """Reads an Environment's stats, users and workers when Prometheus scrapes."""

    def __init__(self, environment: Any, scenario: Callable[[], tuple[str, str] | None]) -> None:
        self.environment = environment
        self.scenario = scenario

    def collect(self) -> Iterable[Metric]:
        env = self.environment
        runner = env.runner
        users = GaugeMetricFamily("locust_users", "Users running now, all workers")
        users.add_metric([], float(runner.user_count if runner else 0))
        yield users
        workers = GaugeMetricFamily("locust_workers", "Connected workers (0 in local mode)")
        workers.add_metric([], float(len(getattr(runner, "clients", {}) or {})))
        yield workers

        requests = CounterMetricFamily(
            "locust_requests", "Requests sent", labels=["method", "name"]
        )
        failures = CounterMetricFamily(
            "locust_failures", "Requests that failed", labels=["method", "name"]
        )
        durations = HistogramMetricFamily(
            "locust_request_duration_seconds",
            "Response times seen by the load generator",
            labels=["method", "name"],
        )
        for (name, method), entry in sorted(env.stats.entries.items()):
            labels = [method or "", name]
            requests.add_metric(labels, entry.num_requests)
            failures.add_metric(labels, entry.num_failures)
            durations.add_metric(
                labels, buckets(entry.response_times), entry.total_response_time / 1000
            )
        yield requests
        yield failures
        yield durations

        rejected = CounterMetricFamily(
            "locust_rejections",
            "Business rejections by class (not failures)",
            labels=["method", "name", "code"],
        )
        for (method, name, code), n in sorted(rejections.totals.items()):
            rejected.add_metric([method, name, code], n)
        yield rejected

        info = GaugeMetricFamily(
            "locust_scenario_info", "1 while a run is on", labels=["scenario", "shape"]
        )
        current = self.scenario()
        if current is not None:
            info.add_metric(list(current), 1.0)
        yield info


def registry_for(environment: Any, scenario: Callable[[], tuple[str, str] | None]) -> Any:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LocustCollector(environment, scenario))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
