"""The SLO gate: a run's locust stats against the checked-in thresholds of its scenario.

`loadtest/slo/thresholds/<scenario>.toml` holds `min_rps` (whole-run mean of all requests) and,
per request name (or `"*"` for every name), `p95_ms`, `p99_ms` and `max_failure_ratio`;
an optional `[smoke]` table (same keys, `[smoke."<name>"]` per request) applies to runs shorter
than SMOKE_SCALE. Incident scenarios share `incident.toml`. The verdict is a table and a
boolean; the audit's result joins it as one more row, so one exit code says "fast enough and
nothing lost".
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

THRESHOLDS = Path(__file__).resolve().parent / "thresholds"
TOTAL = "Aggregated"


@dataclass(frozen=True, slots=True)
class Row:
    check: str
    name: str
    limit: str
    measured: str
    ok: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    rows: tuple[Row, ...]

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def table(self) -> str:
        header = ("check", "request", "limit", "measured", "verdict")
        lines = [
            (r.check, r.name, r.limit, r.measured, "PASS" if r.ok else "FAIL") for r in self.rows
        ]
        widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(len(header))]
        out = [" | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))]
        out.append("-+-".join("-" * w for w in widths))
        out += [" | ".join(str(c).ljust(w) for c, w in zip(x, widths, strict=True)) for x in lines]
        out.append(f"SLO gate: {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(out)


# Below this time scale a run is a smoke: ramps of seconds become bursts of a fraction of one,
# so the `[smoke]` table of a thresholds file loosens latency and throughput (never failures).
SMOKE_SCALE = 0.2


def thresholds_for(
    scenario: str, directory: Path = THRESHOLDS, *, smoke: bool = False
) -> dict[str, Any]:
    path = directory / f"{scenario}.toml"
    if not path.exists():
        path = directory / "incident.toml"
    with path.open("rb") as f:
        limits = tomllib.load(f)
    overrides = limits.pop("smoke", {})
    if smoke:
        for key, value in overrides.items():
            if isinstance(value, dict):
                limits[key] = {**limits.get(key, {}), **value}
            else:
                limits[key] = value
    return limits


def read_stats(path: Path) -> dict[str, dict[str, str]]:
    """locust's `<prefix>_stats.csv`, keyed by request name (the total is "Aggregated")."""
    with path.open(newline="") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


def _number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def evaluate(
    stats: dict[str, dict[str, str]],
    limits: dict[str, Any],
    audit_ok: bool | None = None,
    audit_detail: str = "",
) -> Verdict:
    rows: list[Row] = []
    total = stats.get(TOTAL, {})
    rps = _number(total.get("Requests/s", "")) or 0.0
    if "min_rps" in limits:
        rows.append(
            Row(
                "throughput",
                TOTAL,
                f">= {limits['min_rps']} req/s",
                f"{rps:.1f} req/s",
                rps >= limits["min_rps"],
            )
        )
    per_name = {k: v for k, v in limits.items() if isinstance(v, dict)}
    names = [n for n in stats if n != TOTAL]
    for name in names:
        rule = per_name.get(name, per_name.get("*"))
        if rule is None:
            continue
        row = stats[name]
        for key, column in (("p95_ms", "95%"), ("p99_ms", "99%")):
            if key in rule:
                measured = _number(row.get(column, ""))
                ok = measured is not None and measured <= rule[key]
                shown = "n/a" if measured is None else f"{measured:.0f} ms"
                rows.append(
                    Row(
                        f"p{column[:-1]}",
                        name,
                        f"<= {rule[key]} ms",
                        shown,
                        ok,
                    )
                )
        if "max_failure_ratio" in rule:
            count = _number(row.get("Request Count", "")) or 0.0
            failed = _number(row.get("Failure Count", "")) or 0.0
            ratio = failed / count if count else 0.0
            rows.append(
                Row(
                    "failure ratio",
                    name,
                    f"<= {rule['max_failure_ratio']:.2%}",
                    f"{ratio:.2%} ({failed:.0f}/{count:.0f})",
                    ratio <= rule["max_failure_ratio"],
                )
            )
    for name in per_name:
        if name != "*" and name not in stats:
            rows.append(Row("requests sent", name, "> 0", "0", False))
    if audit_ok is not None:
        rows.append(
            Row(
                "consistency audit",
                "MariaDB",
                "no discrepancy",
                audit_detail or ("clean" if audit_ok else "discrepancies"),
                audit_ok,
            )
        )
    return Verdict(tuple(rows))
