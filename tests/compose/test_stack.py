"""The stack as users run it (`make test-compose`): compose.yaml built and started on this
machine's dockerd, checked through its load balancer, loaded by its own locust containers, put
through three drills, and taken down without a trace. The tests run in order on one stack."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadtest.slo import gate

from .stack import REPLICAS, Answer, Stack, request, until

pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is missing: run `make test-compose` (it installs it)")
    stack = Stack(tmp_path_factory.mktemp("compose"))
    try:
        stack.startup_seconds = stack.up()
        yield stack
    finally:
        stack.down()


def test_migrate_and_seed_ran_once_before_three_healthy_replicas(stack: Stack) -> None:
    project = f"label=com.docker.compose.project={stack.project}"
    service = "label=com.docker.compose.service=migrate"
    runs = stack.docker("ps", "-a", "-q", "--filter", project, "--filter", service).split()
    assert len(runs) == 1
    state = stack.docker(
        "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", stack.container("migrate")
    ).split()
    assert state == ["exited", "0"]
    logs = stack.compose("logs", "--no-color", "migrate")
    assert logs.count("migrations applied") == 1
    assert logs.count("seeded 100000 users") == 1
    assert stack.sql("SELECT COUNT(*) FROM users") == "100000"
    for replica in REPLICAS:
        assert stack.health(replica) == "running/healthy"
    servers = stack.haproxy_servers()
    assert {servers["ready", name] for name in REPLICAS} == {"UP"}
    ready = stack.lb("GET", "/readyz")
    assert (ready.status, ready.body["status"]) == (200, "ready")


def test_the_replicas_opt_into_lab_mode_and_log_it(stack: Stack) -> None:
    env = stack.docker("inspect", "-f", "{{json .Config.Env}}", stack.container("shop-1"))
    assert '"SHOP_ENV=dev"' in env
    logs = stack.compose("logs", "--no-color", "shop-1")
    assert '"lab_mode"' in logs
    assert '"auth_off"' in logs
    # The app's account reads and writes rows; it cannot drop the schema it serves.
    grants = stack.sql("SHOW GRANTS FOR 'shop'@'%'")
    assert "DROP" not in grants
    assert "ALL PRIVILEGES" not in grants
    # Redis answers nobody without its password.
    anonymous = stack.compose(
        "exec", "-T", "redis", "env", "-u", "REDISCLI_AUTH", "redis-cli", "ping"
    )
    assert "NOAUTH" in anonymous
    published = stack.compose("ps")
    assert "0.0.0.0" not in published
    assert "3306/tcp" in published


def test_every_api_answers_through_the_load_balancer(stack: Stack) -> None:
    user, product = f"test-user-{1000 + uuid.uuid4().int % 90_000}", "test-product-1"
    calls: dict[tuple[str, str], Answer] = {}

    def call(method: str, template: str, path: str, body: Any = None, admin: bool = False) -> Any:
        answer = (stack.admin if admin else stack.lb)(method, path, body)
        calls[method, template] = answer
        assert answer.status in (200, 201), (method, path, answer)
        return answer.body

    call("GET", "/healthz", "/healthz")
    call("GET", "/readyz", "/readyz")
    document = call("GET", "/api/openapi.json", "/api/openapi.json")
    call("GET", "/metrics", "/metrics")
    call("GET", "/api/products", "/api/products?sort=price")
    call("GET", "/api/products/popular", "/api/products/popular?days=3&limit=5")
    call("GET", "/api/products/{productId}", f"/api/products/{product}")
    call("GET", "/api/products/{productId}/stock", f"/api/products/{product}/stock")
    call("GET", "/api/users/{userId}/balance", f"/api/users/{user}/balance")
    call(
        "POST",
        "/api/users/{userId}/balance/charge",
        f"/api/users/{user}/balance/charge",
        {"amount": 50_000},
    )
    call("GET", "/api/users/{userId}/balance/history", f"/api/users/{user}/balance/history")
    coupon = call(
        "POST",
        "/api/coupons",
        "/api/coupons",
        {
            "name": "compose",
            "discountType": "FIXED",
            "discountValue": 1000,
            "minOrderAmount": 0,
            "totalQuantity": 100,
            "expiresAt": "2099-01-01T00:00:00+00:00",
        },
        admin=True,
    )["couponId"]
    call("GET", "/api/coupons", "/api/coupons")
    call(
        "POST",
        "/api/coupons/validate",
        "/api/coupons/validate",
        {"couponId": coupon, "orderAmount": 20_000},
    )
    call("POST", "/api/coupons/{couponId}/issue", f"/api/coupons/{coupon}/issue", {"userId": user})
    call("GET", "/api/users/{userId}/coupons", f"/api/users/{user}/coupons")
    item = call(
        "POST",
        "/api/cart/items",
        "/api/cart/items",
        {"userId": user, "productId": product, "quantity": 2},
    )["cartItemId"]
    call(
        "PATCH",
        "/api/cart/items/{cartItemId}",
        f"/api/cart/items/{item}?userId={user}",
        {"quantity": 1},
    )
    call("GET", "/api/cart", f"/api/cart?userId={user}")
    call("DELETE", "/api/cart/items/{cartItemId}", f"/api/cart/items/{item}?userId={user}")
    call(
        "POST",
        "/api/cart/items",
        "/api/cart/items",
        {"userId": user, "productId": product, "quantity": 1},
    )
    order = call("POST", "/api/orders", "/api/orders", {"userId": user, "couponId": coupon})
    assert (order["status"], order["discountAmount"]) == ("PAID", 1000)
    call("GET", "/api/orders", f"/api/orders?userId={user}")
    call("GET", "/api/orders/{orderId}", f"/api/orders/{order['orderId']}")
    call("GET", "/api/admin/incidents", "/api/admin/incidents", admin=True)
    call(
        "PUT",
        "/api/admin/incidents/{switch}",
        "/api/admin/incidents/lock_hold_ms",
        {"value": 0},
        admin=True,
    )
    call("POST", "/api/admin/tokens", "/api/admin/tokens", {"userId": user}, admin=True)
    call("POST", "/api/admin/revocations", "/api/admin/revocations", {"userId": user}, admin=True)
    call("POST", "/api/admin/seed", "/api/admin/seed", {"users": 10}, admin=True)
    declared = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert declared == set(calls), declared ^ set(calls)


def test_the_public_port_speaks_only_tls_with_the_certificate_made_on_first_start(
    stack: Stack,
) -> None:
    made = stack.compose("logs", "--no-color", "tls")
    assert "tls: made /tls/shop.pem" in made, made
    # Verified against the stack's own CA, by address and by name.
    answer = stack.lb("GET", "/readyz")
    assert answer.status == 200, answer
    port = stack.ports["LB_PORT"]
    assert request(f"https://localhost:{port}/healthz", tls=stack.tls).status == 200
    # A lab certificate: nothing a public CA signed, so a client trusting only those refuses it;
    # and no HSTS for it (docs/security.md).
    public_only = ssl.create_default_context()
    assert request(f"https://127.0.0.1:{port}/healthz", tls=public_only).status == 0
    assert "strict-transport-security" not in answer.headers
    # Plain HTTP to the TLS port gets no HTTP answer at all.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
        plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try:
            reply = plain.recv(1024)
        except OSError:
            reply = b""
    assert not reply.startswith(b"HTTP/"), reply
    # A restart keeps the certificate the clients trust.
    stack.compose("up", "-d", "--no-deps", "tls")
    until(lambda: "tls: keeping" in stack.compose("logs", "--no-color", "tls"), 60, "kept")
    assert stack.lb("GET", "/healthz").status == 200


# Run inside the compose network as a source of its own: 32 threads on kept-alive connections to
# the load balancer's door argv[2] (8443: TLS, limited; 8080: plain, the internal one without
# the limit), as fast as they go, for argv[1] seconds; prints the statuses counted and one 429.
FLOODER = """
import http.client, json, ssl, sys, threading, time
tls = ssl._create_unverified_context()
end, door = time.monotonic() + float(sys.argv[1]), int(sys.argv[2])
counts, refused, lock = {}, [], threading.Lock()
def connect():
    if door == 8443:
        return http.client.HTTPSConnection("lb", door, context=tls, timeout=10)
    return http.client.HTTPConnection("lb", door, timeout=10)
def run():
    connection = None
    while time.monotonic() < end:
        try:
            connection = connection or connect()
            connection.request("GET", "/api/products")
            response = connection.getresponse()
            body, status = response.read(), response.status
            if status == 429 and not refused:
                refused.append({"headers": dict(response.getheaders()), "body": body.decode()})
        except (OSError, http.client.HTTPException):
            status, connection = 0, None
        with lock:
            counts[status] = counts.get(status, 0) + 1
threads = [threading.Thread(target=run) for _ in range(32)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"counts": counts, "refused": refused[:1]}))
"""


def _p99(stack: Stack, seconds: float) -> tuple[float, Counter[int]]:
    """Another source (this test, through the published port) at 10 requests a second: its p99
    latency in ms and its statuses."""
    latencies, statuses = [], Counter[int]()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        statuses[stack.lb("GET", "/api/products").status] += 1
        latencies.append((time.monotonic() - started) * 1000)
        time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
    latencies.sort()
    return latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], statuses


def _during_flood(stack: Stack, door: int, ramp: float) -> tuple[float, Counter[int], Any]:
    """The other source's p99 and statuses over 8 s from `ramp` s into a flood on `door`; the
    flooder's report."""
    flood: dict[str, Any] = {}

    def run() -> None:
        output = stack.docker(
            "run", "--rm", "--network", f"{stack.project}_default", "--entrypoint", "python",
            "shop-loadtest:local", "-c", FLOODER, str(ramp + 12), str(door),
        )  # fmt: skip
        flood.update(json.loads(output.strip().splitlines()[-1]))

    flooder = threading.Thread(target=run)
    flooder.start()
    time.sleep(ramp)
    p99, statuses = _p99(stack, 8)
    flooder.join(timeout=120)
    flood["counts"] = {int(k): n for k, n in flood["counts"].items()}
    return p99, statuses, flood


def test_a_flood_from_one_source_is_refused_by_the_load_balancer_not_the_replicas(
    stack: Stack,
) -> None:
    alone, _ = _p99(stack, 8)
    # The flooder's interpreter up and its first 1,000 requests answered: the replicas serve
    # those (under 10 s at over 100 a second), then HAProxy refuses the rest.
    limited, statuses, flood = _during_flood(stack, 8443, ramp=14)
    counts = flood["counts"]
    # The other source is answered throughout; the flooder is refused with HAProxy's problem
    # (the lab's replicas have no per-client limits: every 429 is the load balancer's).
    assert set(statuses) == {200}, statuses
    assert counts.get(429, 0) > 0.9 * sum(counts.values()), counts
    [refused] = flood["refused"]
    headers = {k.lower(): v for k, v in refused["headers"].items()}
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"] == "10"
    problem = json.loads(refused["body"])
    assert (problem["status"], problem["code"]) == (429, "COMMON007"), problem
    assert problem["instance"] == "/api/products"
    assert limited < max(5 * alone, alone + 250), (alone, limited)
    # The same flood through the internal door, which has no limit, for comparison: nothing
    # refuses it, every request reaches a replica.
    unlimited, _, open_flood = _during_flood(stack, 8080, ramp=6)
    assert 429 not in open_flood["counts"], open_flood["counts"]
    assert open_flood["counts"].get(200, 0) > counts[200], (open_flood, flood)
    stack.drills["flood"] = {
        "other_p99_alone_ms": round(alone, 1),
        "other_p99_flood_refused_ms": round(limited, 1),
        "other_p99_flood_unlimited_ms": round(unlimited, 1),
        "flooder_refused": counts,
        "flooder_unlimited": open_flood["counts"],
    }


def test_prometheus_scrapes_every_target_evaluates_the_rules_and_reaches_alertmanager(
    stack: Stack,
) -> None:
    def targets_up() -> bool:
        active = stack.prometheus("/api/v1/targets")["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    until(targets_up, 60, "every Prometheus target up")
    jobs = {t["labels"]["job"] for t in stack.prometheus("/api/v1/targets")["activeTargets"]}
    assert jobs == {"shop", "locust", "mysqld", "redis", "prometheus", "alertmanager"}
    rules = [r for g in stack.prometheus("/api/v1/rules")["groups"] for r in g["rules"]]
    assert sum(r["type"] == "alerting" for r in rules) > 10
    assert all(r["health"] == "ok" for r in rules), [r for r in rules if r["health"] != "ok"]
    # Past one evaluation with every target up: whatever was pending at start has cleared.
    time.sleep(20)
    firing = [a for a in stack.prometheus("/api/v1/alerts")["alerts"] if a["state"] == "firing"]
    # The watchdog fires always (the pipeline's heartbeat); nothing else may.
    heartbeat = [a for a in firing if a["labels"].get("severity") == "heartbeat"]
    assert [a["labels"]["alertname"] for a in heartbeat] == ["ShopWatchdog"]
    assert [a for a in firing if a not in heartbeat] == []
    [manager] = stack.prometheus("/api/v1/alertmanagers")["activeAlertmanagers"]
    assert manager["url"].startswith("http://alertmanager:9093")
    assert request(stack.url("ALERTMANAGER_PORT") + "/-/ready").status == 200


def test_locust_master_and_two_workers_pass_the_slo_gate_with_a_clean_audit(
    stack: Stack, tmp_path: Path
) -> None:
    # The order scenario at a tenth of its length (12 s), headless, through the load balancer.
    stack.compose(
        "up",
        "-d",
        "--force-recreate",
        "locust-master",
        "locust-worker",
        LOCUST_HEADLESS="true",
        LOCUST_SCALE="0.1",
    )
    master = stack.container("locust-master")
    code = stack.docker("wait", master).strip()
    log = stack.logs(master)
    assert code == "0", log[-3000:]
    stack.docker("cp", f"{master}:/tmp/locust_stats.csv", str(tmp_path))
    stats = gate.read_stats(tmp_path / "locust_stats.csv")
    assert int(stats[gate.TOTAL]["Request Count"]) > 100
    audit_code, report = stack.audit()
    verdict = gate.evaluate(
        stats,
        gate.thresholds_for("order", smoke=True),
        audit_ok=audit_code == 0,
        audit_detail=report.strip().splitlines()[0],
    )
    assert verdict.ok, verdict.table()
    stack.drills["locust_requests"] = int(stats[gate.TOTAL]["Request Count"])


class Load:
    """Reads and charges through the load balancer from a few threads, each as a user of its
    own (no lock contention between them), until stopped: (time, path, answer) per request."""

    def __init__(self, stack: Stack, first_user: int, threads: int = 4):
        self.stack = stack
        self.answers: list[tuple[float, str, Answer]] = []
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(f"test-user-{first_user + i}",))
            for i in range(threads)
        ]

    def _run(self, user: str) -> None:
        paths = [
            ("GET", "/api/products", None),
            ("GET", f"/api/users/{user}/balance", None),
            ("POST", f"/api/users/{user}/balance/charge", {"amount": 10}),
        ]
        n = 0
        while not self.stopping.is_set():
            method, path, body = paths[n % len(paths)]
            n += 1
            answer = self.stack.lb(method, path, body)
            self.answers.append((time.monotonic(), path, answer))
            # Four threads share one address: well under the load balancer's 100 a second.
            time.sleep(0.05)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def statuses(self, since: float = 0.0) -> Counter[int]:
        return Counter(a.status for t, _, a in self.answers if t >= since)


def _audit_clean(stack: Stack) -> None:
    code, report = stack.audit()
    assert code == 0, report


def test_drill_redis_stopped(stack: Stack) -> None:
    user, coupon = "test-user-71", _coupon(stack)
    stack.compose("stop", "redis")
    until(lambda: stack.lb("GET", "/readyz").body["status"] == "degraded", 30, "degraded")
    # The fleet stays in rotation: catalogue and coupon issues answer, through the LB.
    assert {s for s in stack.haproxy_servers().items() if s[0][0] == "ready"} == {
        (("ready", name), "UP") for name in REPLICAS
    }
    assert stack.lb("GET", "/api/products").status == 200
    issued = stack.lb("POST", f"/api/coupons/{coupon}/issue", {"userId": user})
    assert issued.status == 200, issued
    # Locked writes get the shop's own 503 LOCK002 (problem+json), not HAProxy's page.
    for method, path, body in (
        ("POST", f"/api/users/{user}/balance/charge", {"amount": 10}),
        ("POST", "/api/orders", {"userId": user}),
    ):
        answer = stack.lb(method, path, body)
        assert (answer.status, answer.problem_code) == (503, "LOCK002"), answer
    assert stack.admin("GET", "/api/admin/incidents").status == 200
    stack.compose("start", "redis")
    back = time.monotonic()
    until(
        lambda: stack.lb("POST", f"/api/users/{user}/balance/charge", {"amount": 10}).status == 200,
        10,
        "charges back within 10 s of Redis",
        every=0.2,
    )
    stack.drills["redis_recovery_s"] = time.monotonic() - back
    _audit_clean(stack)


def _coupon(stack: Stack) -> str:
    created = stack.admin(
        "POST",
        "/api/coupons",
        {
            "name": "drill",
            "discountType": "FIXED",
            "discountValue": 100,
            "minOrderAmount": 0,
            "totalQuantity": 1000,
            "expiresAt": "2099-01-01T00:00:00+00:00",
        },
    )
    assert created.status == 201, created
    return str(created.body["couponId"])


def test_drill_one_replica_killed(stack: Stack) -> None:
    with Load(stack, first_user=720) as load:
        time.sleep(3)
        killed = time.monotonic()
        stack.docker("kill", stack.container("shop-2"))
        until(
            lambda: stack.haproxy_servers()["ready", "shop-2"].startswith("DOWN"),
            10,
            "HAProxy takes shop-2 out",
        )
        time.sleep(3)
    statuses = load.statuses(killed)
    failed = sum(n for status, n in statuses.items() if status != 200)
    # At most the requests in flight on shop-2 when it died (one per load thread).
    assert failed <= len(load.threads), statuses
    assert load.statuses(killed)[200] > 20
    stack.drills["replica_kill_failed"] = failed
    stack.drills["replica_kill_requests"] = sum(load.statuses(killed).values())

    def target_down() -> bool:
        result = stack.prometheus('/api/v1/query?query=up{instance="shop-2:8081"}')["result"]
        return bool(result) and result[0]["value"][1] == "0"

    until(target_down, 40, "Prometheus sees shop-2 down")
    stack.compose("start", "shop-2")
    until(lambda: stack.health("shop-2") == "running/healthy", 60, "shop-2 back")
    _audit_clean(stack)


def test_drill_mariadb_restarted(stack: Stack) -> None:
    with Load(stack, first_user=730) as load:
        time.sleep(2)
        # Stopped long enough for HAProxy to find no replica ready, then started again.
        stack.compose("stop", "mariadb")
        until(
            lambda: all(
                state.startswith("DOWN")
                for (backend, _), state in stack.haproxy_servers().items()
                if backend == "ready"
            ),
            15,
            "every replica unready without MariaDB",
        )
        # The live replicas still take the traffic: the shop's own 503s, the admin API answers.
        catalogue = stack.lb("GET", "/api/products")
        assert (catalogue.status, catalogue.problem_code) == (503, "DB001"), catalogue
        assert stack.admin("GET", "/api/admin/incidents").status == 200
        stack.compose("start", "mariadb")
        until(lambda: stack.health("mariadb") == "running/healthy", 60, "mariadb healthy")
        healthy = time.monotonic()

        def serving() -> bool:
            recent = [a.status for t, _, a in load.answers[-12:] if t > time.monotonic() - 2]
            return bool(recent) and set(recent) == {200}

        until(serving, 10, "service back within 10 s of MariaDB", every=0.2)
    statuses = load.statuses()
    assert statuses[500] == 0, statuses
    assert set(statuses) <= {200, 503}, statuses
    refused = [(t, a) for t, _, a in load.answers if a.status == 503]
    # Every 503 is the shop's own problem (with its code), never HAProxy's: neither its empty
    # page nor its OVERLOADED refusal (the drill's few threads never fill a replica's maxconn).
    codes = {a.problem_code for _, a in refused}
    assert None not in codes, codes
    assert "OVERLOADED" not in codes, codes
    stack.drills["mariadb_503_window_s"] = refused[-1][0] - refused[0][0]
    stack.drills["mariadb_back_after_healthy_s"] = max(0.0, refused[-1][0] - healthy)
    stack.drills["mariadb_statuses"] = dict(statuses)
    _audit_clean(stack)


def test_down_leaves_no_container_volume_or_network(stack: Stack) -> None:
    print(f"compose stack: healthy in {stack.startup_seconds:.0f} s; drills {stack.drills}")
    stack.down()
    assert stack.leftovers() == {"containers": [], "volumes": [], "networks": []}
