"""`make loadtest-compare A=<run> B=<run>`: is B slower than A? A verdict per figure.

Per request name (and all together): p50, p95 and p99 of each second, requests per second and
the share of failures per second; from the recorded Prometheus series, the shop's lock wait,
pool wait and statement p99 per scrape. Each figure's samples of A and B go through a two-sided
Mann-Whitney U test (scipy; decision 0044): no assumption of normality, and robust to the long
tails of latencies. A figure differs when the test rejects "same distribution" at the stated
confidence AND the medians differ by at least `--min-effect`: per-second samples of one run are
not independent (a slow second follows a slow second), so significance alone over-reports on a
shared machine; the effect floor is what keeps two runs of one build at "no difference".

Writes `README.md`, `compare.png` and the self-contained `README.html` into `--out`; exits 1
when a figure is slower (or fails more) by more than `--threshold`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import mannwhitneyu  # type: ignore[import-untyped]  # scipy has no inline types

from loadtest.slo import html, requests
from loadtest.slo.requests import TOTAL

MIN_SAMPLES = 5
# Shop internals from `prometheus_series.json` (loadtest/harness/stack.py QUERIES), in seconds.
INTERNALS = {"lock_wait_p99": "lock_name", "pool_wait_p99": "pool", "statement_p99": None}


@dataclass(frozen=True, slots=True)
class Figure:
    name: str  # request name, or "shop" for internals
    figure: str  # p95, requests/s, lock_wait_p99 ...
    unit: str
    higher_is_worse: bool
    a: np.ndarray
    b: np.ndarray


@dataclass(frozen=True, slots=True)
class Outcome:
    figure: Figure
    median_a: float
    median_b: float
    change: float  # B's median relative to A's (0.1: 10 % higher)
    p_value: float
    verdict: str  # slower, faster, worse, better, no difference, too few samples

    @property
    def regressed(self) -> bool:
        return self.verdict in ("slower", "worse")

    def beyond(self, threshold: float) -> bool:
        """A regression by more than `threshold`: B's durations (and failure shares) above
        A's times (1 + threshold), or its rates below A's divided by it."""
        if not self.regressed:
            return False
        if self.figure.higher_is_worse:
            return self.change > threshold
        return self.median_b * (1 + threshold) < self.median_a


def _clean(values: np.ndarray) -> np.ndarray:
    finite: np.ndarray = values[np.isfinite(values)]
    return finite


def _internals(run: Path) -> dict[tuple[str, str], np.ndarray]:
    path = run / "prometheus_series.json"
    if not path.exists():
        return {}
    series = json.loads(path.read_text()).get("series", {})
    out = {}
    for query, label in INTERNALS.items():
        result = series.get(query)
        if not isinstance(result, list):
            continue
        for item in result:
            which = item["metric"].get(label, "") if label else ""
            values = np.array([float(v) * 1000 for _, v in item["values"]])
            out[(query, which)] = _clean(values)
    return out


def figures(a: Path, b: Path) -> list[Figure]:
    """The samples of every figure both runs have."""
    sec_a = requests.per_second(requests.read(a))
    sec_b = requests.per_second(requests.read(b))
    out: list[Figure] = []
    names = sorted(set(sec_a) & set(sec_b), key=lambda n: (n != TOTAL, n))
    for name in names:
        x, y = sec_a[name], sec_b[name]
        for label in ("p50", "p95", "p99"):
            times = _clean(getattr(x, label)), _clean(getattr(y, label))
            out.append(Figure(name, label, "ms", True, *times))
        out.append(Figure(name, "requests/s", "/s", False, x.count, y.count))
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(
                Figure(
                    name,
                    "failures",
                    "share",
                    True,
                    _clean(x.failures / x.count),
                    _clean(y.failures / y.count),
                )
            )
    int_a, int_b = _internals(a), _internals(b)
    for key in sorted(set(int_a) & set(int_b)):
        query, which = key
        label = f"{query} {which}".strip()
        out.append(Figure("shop", label, "ms", True, int_a[key], int_b[key]))
    return out


def _relative(a: float, b: float) -> float:
    if a == b:
        return 0.0
    if a == 0:
        return math.inf
    return b / a - 1


def judge(figure: Figure, confidence: float, min_effect: float) -> Outcome:
    a, b = figure.a, figure.b
    if len(a) < MIN_SAMPLES or len(b) < MIN_SAMPLES:
        return Outcome(figure, math.nan, math.nan, math.nan, math.nan, "too few samples")
    # Failure shares are mostly zero: their means move where their medians cannot.
    centre = np.mean if figure.figure == "failures" else np.median
    ca, cb = float(centre(a)), float(centre(b))
    change = _relative(ca, cb)
    if np.array_equal(np.unique(a), np.unique(b)) and len(np.unique(a)) == 1:
        p_value = 1.0  # both constant and equal (no failures at all): nothing to test
    else:
        p_value = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    verdict = "no difference"
    if p_value < 1 - confidence and abs(change) >= min_effect:
        worse = (cb > ca) == figure.higher_is_worse
        if figure.figure == "failures":
            verdict = "worse" if worse else "better"
        else:
            verdict = "slower" if worse else "faster"
    return Outcome(figure, ca, cb, change, p_value, verdict)


def compare(
    a: Path, b: Path, *, confidence: float = 0.99, min_effect: float = 0.10
) -> list[Outcome]:
    return [judge(f, confidence, min_effect) for f in figures(a, b)]


def _shown(value: float, unit: str) -> str:
    if math.isnan(value):
        return "–"
    if unit == "share":
        return f"{value:.2%}"
    return f"{value:.1f}" + (" ms" if unit == "ms" else "/s")


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| request | figure | A (median) | B (median) | change | p | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        f = o.figure
        change = "–" if math.isnan(o.change) else f"{o.change:+.0%}"
        p = "–" if math.isnan(o.p_value) else f"{o.p_value:.3g}"
        verdict = o.verdict if o.verdict == "no difference" else f"**{o.verdict}**"
        lines.append(
            f"| `{f.name}` | {f.figure} | {_shown(o.median_a, f.unit)} |"
            f" {_shown(o.median_b, f.unit)} | {change} | {p} | {verdict} |"
        )
    return "\n".join(lines)


def chart(a: Path, b: Path, out: Path) -> str:
    """p95 per second of every request name, A against B."""
    sec_a = requests.per_second(requests.read(a))
    sec_b = requests.per_second(requests.read(b))
    names = sorted(set(sec_a) & set(sec_b), key=lambda n: (n != TOTAL, n))
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.4 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        ax.plot(sec_a[name].second, sec_a[name].p95, label=f"A {a.name}")
        ax.plot(sec_b[name].second, sec_b[name].p95, label=f"B {b.name}")
        ax.set_title(f"p95 per second: {name}", fontsize=9)
        ax.set_ylabel("ms")
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("seconds since the first request")
    fig.tight_layout()
    fig.savefig(out / "compare.png", dpi=90)
    plt.close(fig)
    return "compare.png"


def _meta(run: Path) -> dict[str, Any]:
    path = run / "run.json"
    meta: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return meta


def _describe(label: str, run: Path) -> str:
    meta = _meta(run)
    machine = meta.get("machine") or {}
    return (
        f"- **{label}** `{run.name}`: scenario `{meta.get('scenario')}` at scale"
        f" {meta.get('scale')}, commit `{str(meta.get('commit', '?'))[:12]}`, machine"
        f" {machine.get('host', '?')} ({machine.get('cores', meta.get('cores', '?'))} cores,"
        f" load {machine.get('load', '?')}, speed probe {meta.get('probe_ms', '?')} ms),"
        f" {meta.get('wall_seconds', 0):.0f} s"
    )


def write(
    a: Path,
    b: Path,
    out: Path,
    outcomes: list[Outcome],
    *,
    confidence: float,
    min_effect: float,
    threshold: float,
    note: str = "",
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    picture = chart(a, b, out)
    regressions = [o for o in outcomes if o.beyond(threshold)]
    summary = (
        f"**Regression**: {len(regressions)} figure(s) of B worse than A by more than"
        f" {threshold:.0%}."
        if regressions
        else f"No figure of B is worse than A by more than {threshold:.0%}."
    )
    text = f"""# Load-test comparison: {b.name} against {a.name}

{note + chr(10) if note else ""}
{_describe("A", a)}
{_describe("B", b)}

Each figure's per-second samples of A and B through a two-sided Mann-Whitney U test; a figure
differs when p < {1 - confidence:.2g} ({confidence:.0%} confidence) and the medians (means for
failures) differ by at least {min_effect:.0%}. A regression is a figure of B worse than A's by
more than {threshold:.0%} (durations times {1 + threshold:g}, rates divided by it).

{summary}

{table(outcomes)}

![p95 per second]({picture})
"""
    readme = out / "README.md"
    readme.write_text(text)
    html.write(readme)
    return readme


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest compare", description=__doc__.split("\n")[0])
    parser.add_argument("a", type=Path, help="the reference run directory")
    parser.add_argument("b", type=Path, help="the run judged against it")
    parser.add_argument("--out", type=Path, default=None, help="default: <B>/compare")
    parser.add_argument("--confidence", type=float, default=0.99)
    parser.add_argument("--min-effect", type=float, default=0.10)
    parser.add_argument("--threshold", type=float, default=0.25, help="regression: exit 1")
    parser.add_argument("--note", default="", help="what was compared, for the report's reader")
    args = parser.parse_args(argv)
    for run in (args.a, args.b):
        if not any((run / "requests").glob("*.csv*")):
            print(f"{run} holds no request log (requests/*.csv)", file=sys.stderr)
            return 2
    outcomes = compare(args.a, args.b, confidence=args.confidence, min_effect=args.min_effect)
    readme = write(
        args.a,
        args.b,
        args.out or args.b / "compare",
        outcomes,
        confidence=args.confidence,
        min_effect=args.min_effect,
        threshold=args.threshold,
        note=args.note,
    )
    print(table(outcomes))
    print(f"compare: {readme}")
    regressed = [o for o in outcomes if o.beyond(args.threshold)]
    for o in regressed:
        print(
            f"compare: REGRESSION {o.figure.name} {o.figure.figure} {o.change:+.0%}",
            file=sys.stderr,
        )
    return 1 if regressed else 0
