"""The SLO spec (`slos.yml`) read into types, with the PromQL of each SLI.

Objectives and burn rates are Decimals read from the spec's text, so a budget of 1 - 0.999 is
0.001 exactly in every generated file. `rules/slo.yml`, the overview's budget panels, the
locust gate's thresholds and the OpenSLO export are all built from `load()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SPEC = HERE / "slos.yml"
_SECONDS = {"m": 60, "h": 3600, "d": 86_400}


def seconds(duration: str) -> int:
    """A duration of the spec ("5m", "6h", "30d") in seconds."""
    match = re.fullmatch(r"(\d+)([mhd])", duration)
    if match is None:
        raise ValueError(f"not a duration of the spec: {duration!r}")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def decimal(value: object) -> Decimal:
    """A spec number as the Decimal its text says (0.999, never 0.99899999...)."""
    return Decimal(str(value))


def number(value: Decimal) -> str:
    """A Decimal as PromQL or TOML writes it: 0.001, 14.4, 6 (no exponent, no trailing 0)."""
    return format(value.normalize(), "f")


@dataclass(frozen=True, slots=True)
class Window:
    long: str
    short: str
    burn: Decimal
    for_: str
    severity: str


@dataclass(frozen=True, slots=True)
class Slo:
    name: str
    alert: str
    objective: Decimal
    description: str
    record: str
    requests: str
    total: str
    bad: tuple[str, ...]
    good: str | None
    histogram: str | None
    threshold_seconds: Decimal | None
    events: str
    panel: int
    budget_panel: int

    @property
    def budget(self) -> Decimal:
        """The share of events allowed to be bad over the period."""
        return 1 - self.objective

    def ratio(self, window: str) -> str:
        """The recorded bad-event ratio over `window`."""
        return f"job:{self.record}:ratio_rate{window}"

    def rate(self, window: str) -> str:
        """The recorded bad events per second over `window`."""
        return f"job:{self.record}:rate{window}"

    def requests_rate(self, window: str) -> str:
        """The recorded events per second over `window`."""
        return f"job:{self.requests}:rate{window}"

    def budget_left(self, period: str) -> str:
        """The recorded share of the period's error budget not spent (negative: overspent)."""
        return f"job:{self.record}:budget_left{period}"


@dataclass(frozen=True, slots=True)
class Gate:
    scenario: str
    comment: str
    min_rps: int
    smoke: bool
    # request name → (p95_ms, p99_ms, budgets)
    requests: dict[str, tuple[int, int, Decimal]]
    # Open-model scenarios: the share of each request's answers that may be shed (503
    # OVERLOADED, their own class), and of arrivals the generator may fail to start on time.
    max_shed_ratio: Decimal | None = None
    max_not_started_ratio: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Spec:
    service: str
    period: str
    windows: tuple[Window, ...]
    record_windows: tuple[str, ...]
    min_events: int
    slos: tuple[Slo, ...]
    gates: tuple[Gate, ...]
    smoke: dict[str, int]

    def slo(self, name: str) -> Slo:
        return next(s for s in self.slos if s.name == name)


def _slo(raw: dict[str, Any], api: str) -> Slo:
    threshold = raw.get("threshold_seconds")
    le = bucket_label(decimal(threshold)) if threshold is not None else ""

    def expand(selector: str) -> str:
        return selector.replace("$api", api).replace("$le", le)

    return Slo(
        name=raw["name"],
        alert=raw["alert"],
        objective=decimal(raw["objective"]),
        description=raw["description"],
        record=raw["record"],
        requests=raw["requests"],
        total=expand(raw["total"]),
        bad=tuple(expand(b) for b in raw.get("bad", [])),
        good=expand(raw["good"]) if "good" in raw else None,
        histogram=raw.get("histogram"),
        threshold_seconds=decimal(threshold) if threshold is not None else None,
        events=raw["events"],
        panel=int(raw["panel"]),
        budget_panel=int(raw["budget_panel"]),
    )


def bucket_label(threshold: Decimal) -> str:
    """The `le` label prometheus-client writes for a bucket bound (0.5 → "0.5", 1 → "1.0")."""
    return repr(float(threshold))


def load(path: Path = SPEC) -> Spec:
    """The spec, read and checked: every SLO is good-or-bad, names are unique."""
    raw = yaml.safe_load(path.read_text())
    slos = tuple(_slo(s, raw["api"]) for s in raw["slos"])
    for slo in slos:
        if (slo.good is None) == (not slo.bad):
            raise ValueError(f"SLO {slo.name}: give either `good` or `bad` events")
    if len({s.name for s in slos}) != len(slos):
        raise ValueError("SLO names must be unique")
    gates = tuple(
        Gate(
            scenario=scenario,
            comment=gate["comment"],
            min_rps=int(gate["min_rps"]),
            smoke=bool(gate.get("smoke", True)),
            requests={
                name: (int(r["p95_ms"]), int(r["p99_ms"]), decimal(r["budgets"]))
                for name, r in gate["requests"].items()
            },
            max_shed_ratio=_optional(gate.get("max_shed_ratio")),
            max_not_started_ratio=_optional(gate.get("max_not_started_ratio")),
        )
        for scenario, gate in raw["loadtest"].items()
    )
    return Spec(
        service=raw["service"],
        period=raw["period"],
        windows=tuple(
            Window(w["long"], w["short"], decimal(w["burn"]), w["for"], w["severity"])
            for w in raw["windows"]
        ),
        record_windows=tuple(raw["record_windows"]),
        min_events=int(raw["min_events"]),
        slos=slos,
        gates=gates,
        smoke={k: int(v) for k, v in raw["smoke"].items()},
    )


def _optional(value: object) -> Decimal | None:
    return None if value is None else decimal(value)
