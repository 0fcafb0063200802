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
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

THRESHOLDS = Path(__file__).resolve().parent / "thresholds"
# Classes of the run's tally (loadtest/traffic): the gate's refusals, and open-model arrivals
# the generator could not start on time.
SHED = "OVERLOADED"
NOT_STARTED = "NOT_STARTED"
INTENDED = "@intended"
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


def read_tallies(path: Path) -> list[dict[str, Any]]:
    """The counted classes (rejections, shed, not started) of a run's locust summary."""
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = json.loads(path.read_text()).get("rejections") or []
    return rows


def _number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _tally(tallies: list[dict[str, Any]], code: str) -> dict[str, float]:
    """Counts of one class (a code of the run's tally) per request name."""
    counted: dict[str, float] = {}
    for row in tallies:
        if row["code"] == code:
            counted[row["name"]] = counted.get(row["name"], 0.0) + float(row["count"])
    return counted


def evaluate(
    stats: dict[str, dict[str, str]],
    limits: dict[str, Any],
    audit_ok: bool | None = None,
    audit_detail: str = "",
    tallies: list[dict[str, Any]] | None = None,
) -> Verdict:
    """The run against its limits. `tallies` are the locust summary's counted classes: shed
    answers (503 OVERLOADED, failures in locust's stats) are checked against `max_shed_ratio`
    instead of `max_failure_ratio`; open-model arrivals never started against
    `max_not_started_ratio`. Rows named `<name> @intended` (and `@shed`) are the open model's
    latencies from each arrival's intended start, checked like any other."""
    rows: list[Row] = []
    shed = _tally(tallies or [], SHED)
    not_started = sum(_tally(tallies or [], NOT_STARTED).values())
    total = stats.get(TOTAL, {})
    # locust's total counts each open-model arrival twice (its request, and its @ row)
    rps = (_number(total.get("Requests/s", "")) or 0.0) - sum(
        _number(row.get("Requests/s", "")) or 0.0 for n, row in stats.items() if " @" in n
    )
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
        count = _number(row.get("Request Count", "")) or 0.0
        # Only locust's own rows mix the classes: the open model's `@intended` rows hold the
        # arrivals not shed, its `@shed` rows the shed ones (timed, not failed).
        refused = 0.0 if "@" in name else shed.get(name, 0.0)
        if "@" not in name and ("max_shed_ratio" in rule or refused):
            allowed = rule.get("max_shed_ratio", 0.0)
            ratio = refused / count if count else 0.0
            rows.append(
                Row(
                    "shed ratio",
                    name,
                    f"<= {allowed:.2%}",
                    f"{ratio:.2%} ({refused:.0f}/{count:.0f})",
                    ratio <= allowed,
                )
            )
        if "max_failure_ratio" in rule:
            failed = (_number(row.get("Failure Count", "")) or 0.0) - refused
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
    if "max_not_started_ratio" in limits or not_started:
        allowed = limits.get("max_not_started_ratio", 0.0)
        arrivals = not_started + sum(
            _number(stats[n].get("Request Count", "")) or 0.0 for n in names if " @" in n
        )
        ratio = not_started / arrivals if arrivals else 0.0
        rows.append(
            Row(
                "arrivals not started",
                "open model",
                f"<= {allowed:.2%}",
                f"{ratio:.2%} ({not_started:.0f}/{arrivals:.0f})",
                ratio <= allowed,
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
