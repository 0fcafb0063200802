"""CPU the shop process spends per request, for two source trees side by side.

Throughput on a shared 2-core box moves with whatever else runs; the CPU time the server
process itself is charged per request moves far less, so this compares two versions of the code
(the work tree and another checkout, e.g. `git archive <rev> service | tar -x -C /tmp/before`)
by server CPU µs per request on the balance-charge and product-list paths, interleaved rounds.

Usage: `python loadtest/bench_cpu.py --before /tmp/before/service [--rounds 5] [--out FILE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PORT = 18091
DB_URL = os.environ.get("SHOP_BENCH_DB_URL", "mysql://root:@127.0.0.1:3306/shop_bench")
USERS = 2_000
REQUESTS = 3_000
CONCURRENCY = 16


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(source: str | None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SHOP_DB_URL": DB_URL,
        "SHOP_PORT": str(PORT),
        "SHOP_HOST": "127.0.0.1",
        "SHOP_LOG_LEVEL": "INFO",
    }
    if source:
        env["PYTHONPATH"] = source
    process = subprocess.Popen(
        [sys.executable, "-m", "shop", "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/readyz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the shop did not become ready")


async def _drive(path: str) -> None:
    base = f"http://127.0.0.1:{PORT}"
    queue = iter(range(REQUESTS))
    async with aiohttp.ClientSession() as http:

        async def worker() -> None:
            for n in queue:
                if path == "charge":
                    url = f"{base}/api/users/test-user-{n % USERS + 1}/balance/charge"
                    async with http.post(url, json={"amount": 1}) as r:
                        assert r.status == 200, await r.text()
                else:
                    async with http.get(f"{base}/api/products") as r:
                        assert r.status == 200, await r.text()
                        await r.read()

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def _measure(source: str | None, path: str) -> float:
    process = _start(source)
    try:
        asyncio.run(_drive(path))  # warm-up: imports, pools, caches
        before = _cpu_seconds(process.pid)
        asyncio.run(_drive(path))
        return (_cpu_seconds(process.pid) - before) / REQUESTS * 1e6
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="a service/ directory to compare with")
    parser.add_argument("--after", help="the service/ directory to measure (default: this tree)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    env = {**os.environ, "SHOP_DB_URL": DB_URL}
    subprocess.run([sys.executable, "-m", "shop", "migrate"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [sys.executable, "-m", "shop", "seed", "--users", str(USERS)],
        env=env,
        check=True,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    lines = [
        "# Server CPU per request: before vs after",
        "",
        f"`python loadtest/bench_cpu.py --before ...` — {args.rounds} interleaved rounds of "
        f"{REQUESTS} requests ({CONCURRENCY} at a time) after a warm-up of as many; CPU time "
        "charged to the shop process (user + system), logs on.",
        "",
        "| path | before µs/request | after µs/request | after / before |",
        "|---|---|---|---|",
    ]
    for path in ("charge", "products"):
        runs: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            runs["before"].append(_measure(args.before, path))
            runs["after"].append(_measure(args.after, path))
            print(path, {k: round(v[-1], 1) for k, v in runs.items()}, flush=True)
        a, b = statistics.median(runs["before"]), statistics.median(runs["after"])
        lines.append(f"| {path} | {a:.0f} | {b:.0f} | {b / a:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
