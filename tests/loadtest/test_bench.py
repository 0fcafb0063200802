"""Every benchmark `make bench` and `make bench-soak` run is importable and takes its options
through the one entry point (running them is `make bench`'s job, not the suite's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest import ROOT
from loadtest.bench import MODULES


@pytest.mark.parametrize("name", sorted(MODULES))
def test_benchmark_answers_help(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtest", "bench", name, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_the_floor_server_imports() -> None:
    """The bare HTTP floor is started as `python -m loadtest.bench.floor` by the ceiling bench."""
    done = subprocess.run(
        [sys.executable, "-c", "import loadtest.bench.floor"], cwd=ROOT, capture_output=True
    )
    assert done.returncode == 0, done.stderr


def test_the_overload_report_judges_each_target(tmp_path: Path) -> None:
    """The report of `make bench-overload` from a results file: table, chart and verdicts."""
    from loadtest.bench import overload

    def step(multiple: float, mode: str, goodput: float, p99: float, shed_p99: float | None):
        return {
            "multiple": multiple, "admission": mode, "offered": 100 * multiple,
            "goodput": goodput, "p99_ms": p99, "shed": 0.0, "shed_p99_ms": shed_p99,
            "errors": 0.0, "not_started": 0, "generator_core": 0.2, "machine": 0.5,
        }  # fmt: skip

    steps = [
        {
            **step(0.8, "on", 80, 10, 3),
            "shop_core": 0.9,
            "loop_lag_p99_ms": 12.0,
            "refusals": {"late": 3.0, "queue_full": 1.0},
        },
        step(0.8, "off", 80, 10, None),
        {
            **step(0.8, "haproxy", 80, 10, None),
            "shop_core": 0.8,
            "proxy_core": 0.05,
            "in_proxy": {"served_p99_ms": 8, "shop_p99_ms": 7, "refused_p99_ms": None},
        },
        step(4.0, "on", 95, 15, 5),
        step(4.0, "off", 60, 900, None),
        {
            **step(4.0, "haproxy", 92, 30, 25),
            "shop_core": 0.85,
            "proxy_core": 0.1,
            "cpu_busy": [0.97, 0.64],
            "in_proxy": {"served_p99_ms": 14, "shop_p99_ms": 12, "refused_p99_ms": 3},
        },
    ]
    bounds = {
        "other": {"maxconn": 24, "queue": 32, "timeout_ms": 5},
        "batched": {"maxconn": 64, "queue": 32, "timeout_ms": 5},
    }
    results = {
        "machine": "test",
        "endpoints": {"charge": {"capacity": 100, "steps": steps, "bounds": bounds}},
    }
    out = tmp_path / "overload.md"
    overload.write(results, out)
    text = out.read_text()
    assert "| 4x (400/s) | off | 60 | 900 |" in text
    assert "| 20% | 50% | 90% | – | 12 | 75% |" in text  # the shop's own view beside locust's
    assert "| 4x (400/s) | haproxy | 92 | 30 |" in text  # the proxy's variant, its own rows
    # Its CPU beside the shop's, each CPU's busy share, and HAProxy's own timings.
    assert "| 97% / 64% | 85% | 10% | – | – | – | served 14 (shop 12), refused 3 |" in text
    assert text.count("| – | – | – | – | – |") == 3  # steps recorded without either
    # The generator is called no bottleneck only where no CPU was saturated while it sent.
    assert "every CPU was at least 95% busy in 0 of 6 steps: the load generator was not" in text
    assert "coupon issues and orders at most 64 requests in flight at the shop, 32 waiting" in text
    assert "every other request at most 24 requests in flight at the shop, 32 waiting" in text
    on, proxied = text.split("Targets with admission on:")[1].split(
        "Targets with HAProxy in front:"
    )
    assert "4x: goodput 95% of capacity met; 2xx p99 15 ms vs 2x 10 ms at 0.8x met" in on
    assert "**not met**" not in on
    # Each variant judged against its own 0.8x: the proxy's refusals were too slow.
    assert "4x: goodput 92% of capacity met; 2xx p99 30 ms vs 2x 10 ms at 0.8x **not met**" in (
        proxied
    )
    assert "refusal p99 25 ms **not met**" in proxied
    # ... while inside the proxy both held: the time was the client's (decision 0058).
    assert "at the proxy: 2xx p99 14 ms vs 2x 8 ms at 0.8x met; refusal p99 3 ms met" in proxied
    assert out.with_suffix(".png").stat().st_size > 0


def test_the_scale_stride_picks_every_user_once_per_pass() -> None:
    """`make bench-scale` picks user 1 + (i * stride) mod size: the first `size` picks must be
    every user once, or coupon issues and orders would meet users they already served."""
    from loadtest.bench.scale import stride

    for size in (1_000, 2_000, 100_000, 1_000_000):
        step = stride(size)
        picks = {1 + (i * step) % size for i in range(size)}
        assert picks == set(range(1, size + 1)), size
        assert 0.5 * size < step < 0.7 * size  # consecutive picks land far apart


def test_the_scale_bench_runs_at_a_tiny_scale(tmp_path: Path) -> None:
    """`make bench-scale` end to end at 1,000 and 2,000 users, one round of 1 s per path: each
    size seeded and measured on every path, the report written, its databases dropped."""
    from loadtest.bench.scale import SERVER
    from loadtest.harness import database

    prefix = f"shop_scale_test_{os.getpid()}"
    out = tmp_path / "scale.md"
    done = subprocess.run(
        [sys.executable, "-m", "loadtest", "bench", "scale", "--sizes", "1000,2000",
         "--rounds", "1", "--seconds", "1", "--prefix", prefix, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    assert "| 1,000 |" in text  # seeding, per size
    assert "| 2,000 |" in text
    for path in ("charge", "coupon", "order"):
        assert f"| {path} | 1,000 |" in text
        assert f"| {path} | 2,000 |" in text
        assert f"- {path}: " in text  # the verdict against the target
    with database.connect(f"{SERVER}/mysql") as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE %s", (f"{prefix}%",))
        assert cur.fetchall() == ()
