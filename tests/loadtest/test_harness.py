"""The harness every tool stands on, against real processes, MariaDB and Redis: a shop served
and stopped, its admin API, a fleet's verdict from its logs, waiting, /proc readings, the
database helpers, the monitoring stack, private servers and the `python -m loadtest` entry
point."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from loadtest import ROOT
from loadtest.gameday.drills import Fault
from loadtest.gameday.faults import Breaker
from loadtest.harness import admin, database, proxy, speed
from loadtest.harness.ports import free_port, free_ports
from loadtest.harness.processes import cpu_seconds, rss_mib, stop
from loadtest.harness.servers import RedisServer
from loadtest.harness.shop import Replica, answers, launch, problems, serving
from loadtest.harness.stack import Stack, running
from loadtest.harness.waiting import wait_until

from ..conftest import ADMIN_TOKEN
from .databases import derived_url

DB = derived_url("harness")


@pytest.fixture(scope="module")
def seeded() -> Iterator[str]:
    database.fresh_dataset(DB, users=5, stock=100, coupon_quantity=10)
    yield DB
    database.drop(DB)


def test_a_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_wait_until_returns_once_the_check_holds_and_times_out_otherwise() -> None:
    calls = iter([False, False, True])
    assert wait_until(lambda: next(calls), within=5, what="third call", poll=0.01) <= time.time()
    with pytest.raises(TimeoutError, match="never"):
        wait_until(lambda: False, within=0.1, what="never", poll=0.01)


def test_wait_until_stops_when_the_process_that_should_bring_it_about_exits() -> None:
    process = subprocess.Popen(["true"])
    with pytest.raises(RuntimeError, match="exited with 0"):
        wait_until(lambda: False, within=30, what="a state", process=process, poll=0.01)


def test_a_served_shop_answers_takes_admin_calls_and_stops(seeded: str) -> None:
    env = {"SHOP_DB_URL": seeded, "SHOP_ADMIN_TOKEN": ADMIN_TOKEN, "SHOP_LOG_LEVEL": "WARNING"}
    with serving(env) as shop:
        assert answers(shop.url)
        admin.flip(shop.url, ADMIN_TOKEN, "db_latency_ms", 3)
        assert admin.switches(shop.url, ADMIN_TOKEN)["db_latency_ms"] == 3
        assert cpu_seconds(shop.process.pid) > 0
        assert rss_mib(shop.process.pid) > 10
    assert shop.process.returncode == 0
    assert not answers(shop.url)
    assert cpu_seconds(shop.process.pid) == 0.0  # gone: nothing to read


def test_a_fleet_is_judged_by_its_exit_codes_and_logs(tmp_path: Path) -> None:
    log = tmp_path / "replica.log"
    lines = [
        {"event": "request", "status": 200, "route": "/api/orders"},
        {"event": "request", "status": 503, "route": "/api/orders"},
        {"event": "request", "status": 500, "route": "/api/cart/items"},
        {"event": "unhandled_error", "error": "boom"},
    ]
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    failed = subprocess.Popen(["false"])
    failed.wait()
    found = problems(Replica("http://x", failed, log), frozenset({"/api/orders"}))
    assert len(found) == 4, found
    assert "exited with 1" in found[0]
    assert "answered 500" in found[1]
    assert "boom" in found[2]
    assert "not JSON" in found[3]
    clean = subprocess.Popen(["true"])
    clean.wait()
    log.write_text(json.dumps(lines[1]) + "\n")
    assert problems(Replica("http://x", clean, log), frozenset({"/api/orders"})) == []


def test_database_helpers_count_users_and_abandon_carts(seeded: str) -> None:
    assert database.seeded_users(seeded) == 5
    rows = database.abandon_carts(seeded, shoppers=3, count=4)
    assert database.seeded_users(seeded) == 7
    with database.connect(seeded) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT c.user_id, COUNT(*) = (SELECT COUNT(*) FROM products) FROM cart_items i"
            " JOIN carts c ON c.cart_id = i.cart_id GROUP BY c.user_id"
        )
        full = {user for user, every_product in cur.fetchall() if every_product}
        cur.execute("SELECT COUNT(*) FROM cart_items")
        ((total,),) = cur.fetchall()
    # Users 4 to 7 hold every product; the shoppers (1 to 3) are left alone.
    assert {f"test-user-{n}" for n in range(4, 8)} <= full
    assert not {f"test-user-{n}" for n in range(1, 4)} & full
    assert rows == total
    assert database.abandon_carts(seeded, shoppers=3, count=4) == rows  # idempotent
    copy = derived_url("harness_copy")
    database.clone(seeded, copy)
    try:
        assert database.seeded_users(copy) == 7
    finally:
        database.drop(copy)


def test_the_stack_starts_scrapes_its_targets_and_stops(tmp_path: Path) -> None:
    stack = Stack(
        dir=tmp_path,
        shop_urls=["http://127.0.0.1:1", "http://127.0.0.1:2/"],
        prometheus_port=free_port(),
        alertmanager_port=free_port(),
        mysqld_exporter_port=free_port(),
        redis_exporter_port=free_port(),
        interval="1s",
    )
    with running(stack):
        pids = stack.pids()
        assert len(pids) == 4
        assert "scrape_interval: 1s" in (tmp_path / "prometheus.yml").read_text()
        shops = json.loads((tmp_path / "targets" / "shop.json").read_text())
        assert shops == [{"targets": ["127.0.0.1:1"]}, {"targets": ["127.0.0.1:2"]}]
        assert all(state.endswith("answering") for state in stack.status().splitlines())
    assert stack.pids() == []
    assert not answers(stack.prometheus_url, "/-/ready")


def test_the_entry_point_names_its_verbs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtest"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert all(verb in done.stderr for verb in ("services", "replicas", "run", "gameday", "bench"))


def test_replicas_verb_serves_consecutive_ports_until_interrupted(seeded: str) -> None:
    base = free_ports(2)
    env = {**os.environ, "SHOP_DB_URL": seeded, "SHOP_PORT": str(base), "SHOP_LOG_LEVEL": "WARNING"}
    fleet = subprocess.Popen(
        [sys.executable, "-m", "loadtest", "replicas", "2"],
        cwd=ROOT,
        env={**env, "SHOP_REDIS_PREFIX": f"harness:{os.getpid()}:"},
        stdout=subprocess.DEVNULL,
    )
    try:
        urls = [f"http://127.0.0.1:{base + n}" for n in range(2)]
        wait_until(lambda: all(answers(u) for u in urls), within=60, what="both", process=fleet)
    finally:
        stop(fleet, how=signal.SIGINT)
    assert fleet.returncode == 0
    assert not any(answers(u) for u in urls)


def test_replicas_verb_fails_when_a_replica_cannot_serve(seeded: str) -> None:
    """A replica whose port is taken exits; the fleet stops and says so with its exit code."""
    base = free_ports(2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 1))
        taken.listen()
        env = {**os.environ, "SHOP_DB_URL": seeded, "SHOP_PORT": str(base)}
        done = subprocess.run(
            [sys.executable, "-m", "loadtest", "replicas", "2"],
            cwd=ROOT,
            env={
                **env,
                "SHOP_LOG_LEVEL": "WARNING",
                "SHOP_REDIS_PREFIX": f"harness:{os.getpid()}:",
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert f"127.0.0.1:{base + 1} exited on its own" in done.stderr
    assert not answers(f"http://127.0.0.1:{base}")


def test_a_private_redis_stops_and_comes_back_on_its_port_without_its_keys() -> None:
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url, socket_connect_timeout=1)
        client.set("k", "v")
        port = server.port
        server.kill()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        server.start()
        assert server.port == port
        assert client.get("k") is None  # no persistence: a crash loses every key
    assert server.proc is None


def test_a_game_days_fault_breaks_and_mends_its_own_redis() -> None:
    stopped, restarted = Breaker(Fault("redis", "stopped")), Breaker(Fault("redis", "restarted"))
    try:
        for breaker in (stopped, restarted):
            breaker.start()
            assert breaker.stack()["redis_addr"] == breaker.shop_env()["SHOP_REDIS_URL"]
            assert breaker.db_url("mysql://shared") == "mysql://shared"
        client = redis.Redis.from_url(stopped.shop_env()["SHOP_REDIS_URL"])
        stopped.break_(None)
        with pytest.raises(redis.ConnectionError):
            client.ping()
        assert stopped.mend(lambda: None)
        assert client.ping()
        client = redis.Redis.from_url(restarted.shop_env()["SHOP_REDIS_URL"])
        client.set("lease", "held")
        restarted.break_(None)
        assert client.get("lease") is None
        assert not restarted.mend(lambda: None)  # over at once: nothing to mend
    finally:
        stopped.close()
        restarted.close()


def test_the_speed_probe_reads_while_the_block_runs() -> None:
    with speed.probing(interval=0.05) as readings:
        time.sleep(0.6)
    count = len(readings)
    assert count >= 3
    assert all(r > 0 for r in readings)
    time.sleep(0.2)
    assert len(readings) == count  # stopped with the block
    assert speed.median([3.0, 1.0, 2.0]) == 2.0
    assert speed.median([]) is None


def test_launch_runs_the_server_under_its_prefix(tmp_path: Path) -> None:
    """`prefix` (a profiler such as callgrind) wraps the Python process the harness starts."""
    log = tmp_path / "server.log"
    replica = launch(
        f"http://127.0.0.1:{free_port()}",
        {},
        log=log,
        command=("-c", "import os; print(os.environ['UNDER_PREFIX'])"),
        prefix=("env", "UNDER_PREFIX=yes"),
    )
    assert replica.process.wait(timeout=30) == 0
    assert log.read_text().strip() == "yes"


class _Slow(http.server.BaseHTTPRequestHandler):
    """A one-second answer to anything but /healthz (the proxy's readiness check)."""

    def do_GET(self) -> None:
        if self.path != "/healthz":
            time.sleep(1.0)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


def _timed_get(url: str, method: str = "GET") -> tuple[float, int, dict[str, str], bytes]:
    """Seconds, status, headers (names in lower case: HAProxy sends them so) and body."""
    started = time.monotonic()
    data = b"{}" if method == "POST" else None
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data, method=method), timeout=10
        ) as answer:
            status, headers, body = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            status, headers, body = error.code, error.headers, error.read()
    return time.monotonic() - started, status, {k.lower(): v for k, v in headers.items()}, body


def test_the_proxy_refuses_past_its_bounds_at_once_with_the_shops_overloaded_problem(
    tmp_path: Path,
) -> None:
    """One request in flight at the server and one waiting at most 100 ms (three in flight for
    the group-committed writes, a class of their own): of a crowd, the first is served, every
    other gets the OVERLOADED problem within a fraction of the server's second, refused at once
    (queue full) or after its wait (queue timeout), and none hangs. HAProxy's log times them."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        classes = proxy.Classes(
            other=proxy.Bounds(maxconn=1, queue=1, timeout_ms=100),
            batched=proxy.Bounds(maxconn=3, queue=1, timeout_ms=100),
        )
        front = proxy.fronting(f"http://127.0.0.1:{server.server_port}", classes, work=tmp_path)
        with front as p, ThreadPoolExecutor(40) as pool:
            reads = pool.map(_timed_get, [f"{p.url}/api/products?n={n}" for n in range(20)])
            orders = pool.map(_timed_get, [f"{p.url}/api/orders"] * 20, ["POST"] * 20)
            answers, batched = list(reads), list(orders)
            timings = [t for t in p.timings() if t.path != "/healthz"]  # not its readiness
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(status for _, status, _, _ in answers) == [200] + [503] * 19
    assert sorted(status for _, status, _, _ in batched) == [200] * 3 + [503] * 17
    # One request in ten is logged: the served ones took the server's second, and HAProxy
    # refused the others within its 100 ms wait.
    assert timings, "nothing logged"
    for timing in timings:
        if timing.status == 200:
            assert timing.server_ms >= 1000, timing
            assert timing.total_ms >= 1000, timing
        else:
            assert (timing.status, timing.server_ms) == (503, -1), timing
            assert timing.total_ms <= 150, timing
    refused = [
        (took, headers, json.loads(body))
        for took, status, headers, body in answers
        if status == 503
    ]
    for took, headers, problem in refused:
        assert took < 0.5, took
        assert headers["retry-after"] == "1"
        assert headers["content-type"] == "application/problem+json"
        assert (problem["status"], problem["code"], problem["title"]) == (
            503,
            "OVERLOADED",
            "Over capacity: retry after the given seconds",
        )
        assert problem["instance"] == "/api/products"
        assert problem["detail"] == problem["message"]
    details = {problem["detail"] for _, _, problem in refused}
    assert details == {
        "the shop is over capacity (proxy queue of 1 full); retry later",
        "the shop is over capacity (waited 100 ms at the proxy); retry later",
    }
