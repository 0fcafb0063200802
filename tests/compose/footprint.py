"""`make bench-footprint`: what the compose stack costs in memory, and how long it takes to start.

Brings a stack of its own up from nothing (fresh volumes, images built), times it to healthy
(three replicas and the load balancer), samples every container's memory idle and then through
the compose smoke load (the order scenario from the locust master and two workers, headless, at
`--scale`), takes it down, and writes docs/benchmarks/footprint.md. Exits 1 when the whole stack's
peak passes the budget (2 GiB): a benchmark's check, not a test's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .stack import Stack

BUDGET_MIB = 2048
UNITS = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}


def sample(stack: Stack) -> dict[str, float]:
    """MiB per running container of the stack (docker stats: cgroup memory less page cache)."""
    names = stack.docker(
        "ps", "--filter", f"label=com.docker.compose.project={stack.project}", "--format",
        "{{.Names}}",
    ).split()  # fmt: skip
    if not names:
        return {}
    out = stack.docker(
        "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", *names, check=False
    )
    memory: dict[str, float] = {}
    for line in out.splitlines():
        name, usage = line.split("\t")
        match = re.match(r"([\d.]+)(\w+)", usage)
        if match:
            service = name.removeprefix(f"{stack.project}_")
            memory[service] = float(match.group(1)) * UNITS[match.group(2)]
    return memory


def measure(scale: float) -> tuple[float, dict[str, float], dict[str, float], int]:
    """(seconds to healthy, idle MiB, peak MiB under load, locust's request count)."""
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        try:
            startup = stack.up()
            time.sleep(10)  # past start-up work (first scrapes, warm pools)
            idle = sample(stack)
            stack.compose("up", "-d", "--force-recreate", "locust-master", "locust-worker",
                          LOCUST_HEADLESS="true", LOCUST_SCALE=str(scale))  # fmt: skip
            master = stack.container("locust-master")
            peak: dict[str, float] = {}
            while stack.docker("inspect", "-f", "{{.State.Running}}", master).strip() == "true":
                for name, mib in sample(stack).items():
                    peak[name] = max(peak.get(name, 0.0), mib)
            log = stack.logs(master)
            # The stats table's total (`Aggregated  1302  0(0.00%) ...`), not the percentiles'.
            counts = re.findall(r"Aggregated\s+(\d+)\s+\d+\(", log)
            return startup, idle, peak, int(counts[-1]) if counts else 0
        finally:
            stack.down()


def report(startup: float, idle: dict[str, float], peak: dict[str, float], requests: int,
           scale: float) -> str:  # fmt: skip
    total_idle, total_peak = sum(idle.values()), sum(peak.values())
    rows = "\n".join(
        f"| {name} | {idle.get(name, 0):.0f} | {peak.get(name, 0):.0f} |"
        for name in sorted(set(idle) | set(peak), key=lambda n: -peak.get(n, 0))
    )
    verdict = "within" if total_peak <= BUDGET_MIB else "OVER"
    return f"""# Footprint of the compose stack

`make bench-footprint` (tests/compose/footprint.py), {time.strftime("%Y-%m-%d")}, on a machine
of {os.cpu_count()} cores shared with other work (load average {os.getloadavg()[0]:.1f} when the
report was written); `docker stats` (cgroup memory less page cache) sampled every ~2 s.
Images built from Debian bookworm's packages (compose.local.yaml: no Grafana, OTel Collector or
Jaeger). Load: the order scenario at scale {scale} from the locust master and two
workers through HAProxy ({requests} requests).

**Start to healthy** (fresh volumes, images built: `up -d` until three replicas and the load
balancer are healthy, migration and a 100,000-user seed included): **{startup:.0f} s**.

| container | idle MiB | peak under load MiB |
|---|---:|---:|
{rows}
| **whole stack** | **{total_idle:.0f}** | **{total_peak:.0f}** |

Budget: the whole stack under {BUDGET_MIB} MiB at its peak: **{verdict}** (the peak column adds
each container's own peak, so it overstates the stack's at any one moment).
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="footprint", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/footprint.md"))
    # 30 s of the order profile's ramp to 100 users and back: the compose test's smoke, longer.
    parser.add_argument("--scale", type=float, default=0.25)
    args = parser.parse_args(argv)
    subprocess.run(["deploy/docker.sh"], check=True)
    startup, idle, peak, requests = measure(args.scale)
    text = report(startup, idle, peak, requests, args.scale)
    args.out.write_text(text)
    print(text)
    return 0 if sum(peak.values()) <= BUDGET_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
