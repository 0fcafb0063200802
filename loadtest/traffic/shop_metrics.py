"""What the Shop tab charts, computed from the replicas' `/metrics` once a second.

`flatten` turns one exposition into {(sample name, labels): value}; `Watch.sample` takes the
latest reading of every replica, differences it against the previous one (counters and
histogram buckets become per-second rates and window quantiles, so a spike shows at once
instead of being averaged into the whole run) and sums over replicas. No locust import.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, tuple[tuple[str, str], ...]]
Flat = dict[Key, float]

# Business outcomes the shop counts per route (shop_<route>_total{outcome}); "success" is not
# a rejection.
OUTCOME_COUNTERS = ("shop_orders_total", "shop_coupon_issues_total", "shop_balance_charges_total")


def flatten(text: str) -> Flat:
    flat: Flat = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            flat[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    return flat


def _select(flat: Flat, name: str) -> Iterable[tuple[dict[str, str], float]]:
    for (sample, labels), value in flat.items():
        if sample == name:
            yield dict(labels), value


def delta(previous: Flat | None, current: Flat) -> Flat:
    """Per-key increase since `previous` (a restart resets counters: count from zero)."""
    if previous is None:
        return dict.fromkeys(current, 0.0)
    out: Flat = {}
    for key, value in current.items():
        before = previous.get(key, 0.0)
        out[key] = value - before if value >= before else value
    return out


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """histogram_quantile over cumulative {upper edge: count}; None when nothing was observed."""
    edges = sorted(buckets)
    if not edges or buckets[edges[-1]] <= 0:
        return None
    total = buckets[edges[-1]]
    rank = q * total
    lower_edge, lower_count = 0.0, 0.0
    for edge in edges:
        count = buckets[edge]
        if count >= rank:
            if math.isinf(edge):
                return lower_edge
            if count == lower_count:
                return edge
            return lower_edge + (edge - lower_edge) * (rank - lower_count) / (count - lower_count)
        lower_edge, lower_count = edge, count
    return lower_edge


def _quantiles_by(flats: list[Flat], name: str, by: str | None, q: float) -> dict[str, Any]:
    grouped: dict[str, dict[float, float]] = {}
    for flat in flats:
        for labels, value in _select(flat, f"{name}_bucket"):
            group = labels.get(by, "") if by else ""
            edges = grouped.setdefault(group, {})
            edge = float(labels["le"])
            edges[edge] = edges.get(edge, 0.0) + value
    return {group: quantile(q, edges) for group, edges in sorted(grouped.items())}


def _sum_by(flats: list[Flat], name: str, by: str, scale: float = 1.0) -> dict[str, float]:
    out: dict[str, float] = {}
    for flat in flats:
        for labels, value in _select(flat, name):
            group = labels.get(by, "")
            out[group] = out.get(group, 0.0) + value * scale
    return dict(sorted(out.items()))


@dataclass
class Watch:
    """Keeps each replica's previous reading; `sample` turns new readings into one point."""

    replicas: list[str]
    previous: dict[str, Flat] = field(default_factory=dict)
    previous_at: float | None = None

    def sample(self, at: float, readings: Mapping[str, Flat | None]) -> dict[str, Any]:
        """`readings` maps replica URL -> its flattened /metrics (None when it did not answer)."""
        seconds = max(at - self.previous_at, 1e-3) if self.previous_at is not None else 1.0
        per_second = 1 / seconds
        levels = [flat for flat in readings.values() if flat is not None]
        deltas = [
            delta(self.previous.get(url), flat)
            for url, flat in readings.items()
            if flat is not None
        ]
        for url, flat in readings.items():
            if flat is not None:
                self.previous[url] = flat
        self.previous_at = at

        fivexx = 0.0
        for d in deltas:
            for labels, value in _select(d, "http_server_request_duration_seconds_count"):
                if labels.get("http_response_status_code", "").startswith("5"):
                    fivexx += value
        shop_rejections: dict[str, float] = {}
        for name in OUTCOME_COUNTERS:
            for code, value in _sum_by(deltas, name, "outcome", per_second).items():
                if code != "success":
                    shop_rejections[code] = shop_rejections.get(code, 0.0) + value
        switches = sorted(
            {
                labels["switch"]
                for flat in levels
                for labels, value in _select(flat, "shop_incident_switch")
                if value >= 1
            }
        )
        used: dict[str, float] = {}
        for flat in levels:
            for labels, value in _select(flat, "db_client_connection_count"):
                if labels.get("state") == "used":
                    pool = labels.get("pool", "")
                    used[pool] = used.get(pool, 0.0) + value
        lag = _quantiles_by(deltas, "shop_event_loop_lag_seconds", None, 0.99)
        limits = [value for flat in levels for _, value in _select(flat, "shop_admission_limit")]
        return {
            "t": at,
            "replicas": len(self.replicas),
            "replicas_up": len(levels),
            "lock_wait_p99": _quantiles_by(
                deltas, "shop_lock_wait_duration_seconds", "lock_name", 0.99
            ),
            "lock_waiters": _sum_by(levels, "shop_lock_waiters", "lock_name"),
            "pool_used": dict(sorted(used.items())),
            "pool_max": _sum_by(levels, "db_client_connection_max", "pool"),
            "pool_pending": _sum_by(levels, "db_client_connection_pending_requests", "pool"),
            "pool_timeouts": _sum_by(
                deltas, "db_client_connection_timeouts_total", "pool", per_second
            ),
            "http_5xx": fivexx * per_second,
            "shop_rejections": dict(sorted(shop_rejections.items())),
            "loop_lag_p99": lag.get(""),
            # The admission gates' limits, summed (None with admission off).
            "admission_limit": sum(limits) if limits else None,
            # Unknown (not "none on") while no replica answers: the tab leaves a gap.
            "switches": switches if levels else None,
        }
