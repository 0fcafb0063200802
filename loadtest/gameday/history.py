"""Every game day's figures, one JSON line per run in `docs/incidents/history.jsonl`, and the
regression check `make gameday-ci` fails on.

A run's time to detect (TTD: flip → the first expected alert firing) regresses when it exceeds
`ratio` × the median TTD of the scenario's earlier passing runs at the same scale, plus
`slack_s` (`docs/incidents/history-bounds.toml`, per scenario or `[default]`). Relative to the
scenario's own history because scenarios differ by tens of seconds; a ratio and a slack because
this machine is a shared 2-core box whose runs differ by whole evaluation intervals.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest import ROOT

HISTORY = ROOT / "docs" / "incidents" / "history.jsonl"
BOUNDS = ROOT / "docs" / "incidents" / "history-bounds.toml"
# The runs the median is taken over: recent enough to follow a deliberate change of the rules.
RECENT = 10


@dataclass(frozen=True, slots=True)
class Bound:
    ratio: float
    slack_s: float


def _first(times: dict[str, float] | None, alerts: list[str]) -> float | None:
    times = times or {}
    return min((round(times[a], 1) for a in alerts if a in times), default=None)


def _tenths(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def commit() -> str:
    """The checked-out commit (with `-dirty` when the tree differs from it)."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=10"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def shared(cores: int, loads: list[float]) -> bool:
    """Other work ran beside the drill: the drill itself keeps about one core busy."""
    return max(loads) > cores + 1


def entry(record: dict[str, Any], revision: str) -> dict[str, Any]:
    """One history line from a game day's record."""
    expected = list(record["expected"])
    loads = [record["load_average_start"][0], record["load_average_end"][0]]
    return {
        "scenario": record["scenario"],
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record["started"])),
        "commit": revision,
        "machine": {
            "host": os.uname().nodename,
            "cores": record["cores"],
            "load_average": [round(x, 2) for x in loads],
            "shared": shared(record["cores"], loads),
        },
        "scale": record["scale"],
        "rules": record["rules"],
        "users": record["users"],
        "ttd": _first(record.get("ttd"), expected),
        "ttn": _first(record.get("ttn"), expected),
        "ttr": _tenths(record.get("ttr")),
        "ttd_by_alert": {a: round(t, 1) for a, t in (record.get("ttd") or {}).items()},
        "verdict": "passed" if not record["failures"] else "failed",
        "failures": list(record["failures"]),
    }


def read(path: Path = HISTORY) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append(line: dict[str, Any], path: Path = HISTORY) -> None:
    with path.open("a") as out:
        out.write(json.dumps(line, sort_keys=True) + "\n")


def bounds(path: Path = BOUNDS) -> dict[str, Bound]:
    """`default` and per-scenario bounds; a scenario's table overrides the default's keys."""
    tables = tomllib.loads(path.read_text())
    default = tables["default"]
    merged = {name: default | table for name, table in tables.items()}
    return {name: Bound(float(t["ratio"]), float(t["slack_s"])) for name, t in merged.items()}


def bound_for(scenario: str, known: dict[str, Bound]) -> Bound:
    return known.get(scenario, known["default"])


def earlier(history: list[dict[str, Any]], line: dict[str, Any]) -> list[float]:
    """TTDs of the scenario's passing runs at the line's scale, oldest first (at most RECENT)."""
    same = [
        h["ttd"]
        for h in history
        if h["scenario"] == line["scenario"]
        and h["scale"] == line["scale"]
        and h["verdict"] == "passed"
        and h["ttd"] is not None
    ]
    return same[-RECENT:]


def limit(
    history: list[dict[str, Any]], line: dict[str, Any], known: dict[str, Bound]
) -> float | None:
    """The TTD the line may reach, from the runs before it; None without any."""
    before = earlier(history, line)
    if not before:
        return None
    b = bound_for(line["scenario"], known)
    return b.ratio * statistics.median(before) + b.slack_s


def regression(
    history: list[dict[str, Any]], line: dict[str, Any], known: dict[str, Bound]
) -> str | None:
    """Why the line's TTD regressed against the history before it, or None."""
    bound = limit(history, line, known)
    if bound is None or line["ttd"] is None or line["ttd"] <= bound:
        return None
    before = earlier(history, line)
    b = bound_for(line["scenario"], known)
    return (
        f"time to detect regressed: {line['ttd']:.1f} s > {bound:.1f} s ({b.ratio:g} x the"
        f" median {statistics.median(before):.1f} s of {len(before)} earlier passing runs"
        f" + {b.slack_s:g} s, docs/incidents/history-bounds.toml)"
    )


def trend(history: list[dict[str, Any]], scenario: str, scale: str, runs: int = 6) -> str:
    """The scenario's last TTDs at one scale, oldest first (✗: a failed run)."""
    same = [h for h in history if h["scenario"] == scenario and h["scale"] == scale][-runs:]
    marks = [
        ("–" if h["ttd"] is None else f"{h['ttd']:.0f}") + ("" if h["verdict"] == "passed" else "✗")
        for h in same
    ]
    return " → ".join(marks) + " s" if marks else "–"
