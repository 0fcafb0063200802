"""What an SRE sees: every documented metric, bounded labels, exemplars, spans and logs."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import replace

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families
from prometheus_client.parser import text_string_to_metric_families

from shop.app import Overrides, create_app
from shop.keys import DATABASE, DEPS, REDIS
from shop.locks.local import LocalLockManager
from shop.settings import Settings
from shop.telemetry.logging import flush_logs

from ..conftest import REDIS_PREFIX, REDIS_URL
from ..factories import Factory
from .conftest import carted, problem, two_replicas

# Every name of the observability design, its type and its label names.
DOCUMENTED = {
    "http_server_request_duration_seconds": (
        "histogram",
        {"http_request_method", "http_route", "http_response_status_code"},
    ),
    "http_server_active_requests": ("gauge", {"http_request_method"}),
    "db_client_connection_count": ("gauge", {"pool", "state"}),
    "db_client_connection_max": ("gauge", {"pool"}),
    "db_client_connection_pending_requests": ("gauge", {"pool"}),
    "db_client_connection_wait_time_seconds": ("histogram", {"pool"}),
    "db_client_connection_use_time_seconds": ("histogram", {"pool"}),
    "db_client_connection_timeouts": ("counter", {"pool"}),
    "db_client_operation_duration_seconds": (
        "histogram",
        {"db_system", "db_operation", "error_code"},
    ),
    "shop_lock_wait_duration_seconds": ("histogram", {"lock_name", "backend", "outcome"}),
    "shop_lock_hold_duration_seconds": ("histogram", {"lock_name", "backend"}),
    "shop_lock_waiters": ("gauge", {"lock_name", "backend"}),
    "shop_lock_held": ("gauge", {"lock_name", "backend"}),
    "shop_lock_keys": ("gauge", {"backend"}),
    "shop_lock_lease_lost": ("counter", {"lock_name", "backend"}),
    "shop_lock_backend_errors": ("counter", {"backend", "op"}),
    "shop_lock_wakeups": ("counter", {"backend", "source"}),
    "shop_event_loop_lag_seconds": ("histogram", set()),
    "shop_orders": ("counter", {"outcome"}),
    "shop_coupon_issues": ("counter", {"outcome"}),
    "shop_balance_charges": ("counter", {"outcome"}),
    "shop_incident_switch": ("gauge", {"switch", "value"}),
    "shop_build_info": ("gauge", {"version"}),
}
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


async def _families(client, *, openmetrics: bool = False) -> dict[str, object]:
    headers = {"Accept": OPENMETRICS} if openmetrics else {}
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200
    text = await response.text()
    if openmetrics:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        return {f.name: f for f in om_families(text)}
    return {f.name: f for f in text_string_to_metric_families(text)}


async def _drive(client, factory: Factory, users: int = 30) -> None:
    """Requests touching every instrumented path, with many different ids."""
    product = await factory.product(price=100, stock=1_000)
    coupon = await factory.coupon(quantity=5)
    for user in await factory.users(users):
        await client.get(f"/api/users/{user}/balance")
        await client.post(f"/api/users/{user}/balance/charge", json={"amount": 10})
        await client.post(f"/api/coupons/{coupon}/issue", json={"userId": user})
        await client.post(
            "/api/cart/items", json={"userId": user, "productId": product, "quantity": 1}
        )
        await client.post("/api/orders", json={"userId": user})
        await client.get(f"/api/orders/{user}")  # 404 with an id in the path


@pytest.mark.parametrize("openmetrics", [False, True], ids=["prometheus-text", "openmetrics"])
async def test_every_documented_metric_with_its_type_and_labels(
    client, factory, openmetrics: bool
) -> None:
    await _drive(client, factory)
    families = await _families(client, openmetrics=openmetrics)
    for name, (kind, labels) in DOCUMENTED.items():
        assert name in families, name
        family = families[name]
        assert family.type == kind, name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample.labels)


async def test_label_values_stay_bounded_whatever_the_ids(client, factory) -> None:
    await _drive(client, factory, users=40)
    families = await _families(client)
    routes = {
        s.labels["http_route"] for s in families["http_server_request_duration_seconds"].samples
    }
    assert routes <= {
        "/api/users/{userId}/balance",
        "/api/users/{userId}/balance/charge",
        "/api/coupons/{couponId}/issue",
        "/api/cart/items",
        "/api/orders",
        "/api/orders/{orderId}",
        "/metrics",
    }
    outcomes = {s.labels["outcome"] for s in families["shop_coupon_issues"].samples}
    assert outcomes == {"success", "C001"}
    assert {s.labels["outcome"] for s in families["shop_orders"].samples} == {"success"}
    operations = {
        s.labels["db_operation"] for s in families["db_client_operation_duration_seconds"].samples
    }
    assert all(op.count(".") == 1 and "u-" not in op for op in operations)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Where the spans of `traced_client`'s app end, to be read back."""
    return InMemorySpanExporter()


@pytest.fixture
async def traced_client(aiohttp_client, settings: Settings, exporter: InMemorySpanExporter):
    return await aiohttp_client(create_app(settings, Overrides(span_exporter=exporter)))


async def test_openmetrics_carries_exemplars_of_sampled_requests(
    traced_client, exporter: InMemorySpanExporter, factory: Factory
) -> None:
    user = await factory.user()
    assert (
        await traced_client.post(f"/api/users/{user}/balance/charge", json={"amount": 5})
    ).status == 200
    families = await _families(traced_client, openmetrics=True)
    traced = {format(s.context.trace_id, "032x") for s in exporter.get_finished_spans()}
    for name in (
        "http_server_request_duration_seconds",
        "db_client_connection_wait_time_seconds",
        "db_client_operation_duration_seconds",
        "shop_lock_wait_duration_seconds",
    ):
        exemplars = [s.exemplar for s in families[name].samples if s.exemplar is not None]
        assert exemplars, name
        assert {e.labels["trace_id"] for e in exemplars} <= traced
        assert all(len(e.labels["span_id"]) == 16 for e in exemplars)


async def test_spans_nest_as_documented(
    traced_client, exporter: InMemorySpanExporter, factory: Factory
) -> None:
    user = await factory.user()
    product = await factory.product(price=100)
    await traced_client.post(
        "/api/cart/items", json={"userId": user, "productId": product, "quantity": 1}
    )
    exporter.clear()
    assert (await traced_client.post("/api/orders", json={"userId": user})).status == 200
    spans = {s.name: s for s in exporter.get_finished_spans()}
    by_id = {s.context.span_id: s for s in exporter.get_finished_spans()}
    server = spans["POST /api/orders"]
    acquire = spans["lock.acquire order"]
    held = spans["lock.held order"]
    assert acquire.parent.span_id == server.context.span_id
    assert held.parent.span_id == server.context.span_id
    assert acquire.attributes["lock.key"] == f"order:user:{user}"
    assert acquire.attributes["lock.outcome"] == "acquired"
    pool = spans["mysql.pool.acquire"]
    assert pool.parent.span_id == held.context.span_id
    statements = [s for s in exporter.get_finished_spans() if s.attributes.get("db.system")]
    names = {s.name for s in statements}
    assert {
        "users.lock",
        "carts.by_users",
        "orders.insert",
        "users.debit",
        "cart_items.clear",
        "products.take_stock",
    } <= names
    for statement in statements:
        assert by_id[statement.parent.span_id].name == "lock.held order"
        assert len({s.context.trace_id for s in exporter.get_finished_spans()}) == 1


async def test_a_held_lock_shows_in_the_next_requests_wait(
    traced_client, exporter: InMemorySpanExporter, factory: Factory
) -> None:
    user = await factory.user(balance=0)
    locks = traced_client.app[DEPS].locks

    async def hold_a_while() -> None:
        async with locks.hold(f"charge:user:{user}", name="charge", wait=1, lease=5):
            await asyncio.sleep(0.3)

    holder = asyncio.create_task(hold_a_while())
    await asyncio.sleep(0.01)
    exporter.clear()
    response = await traced_client.post(f"/api/users/{user}/balance/charge", json={"amount": 1})
    await holder
    assert response.status == 200
    acquire = next(
        s
        for s in exporter.get_finished_spans()
        if s.name == "lock.acquire charge"
        and s.attributes["lock.key"] == f"charge:user:{user}"
        and s.attributes["lock.waiters"] == 0
        and s.parent is not None
    )
    assert (acquire.end_time - acquire.start_time) / 1e9 >= 0.25
    families = await _families(traced_client)
    waited = [
        s
        for s in families["shop_lock_wait_duration_seconds"].samples
        if s.name.endswith("_bucket")
        and s.labels["lock_name"] == "charge"
        and s.labels["outcome"] == "acquired"
    ]
    over_quarter = sum(s.value for s in waited if s.labels["le"] == "+Inf") - sum(
        s.value for s in waited if s.labels["le"] == "0.25"
    )
    assert over_quarter >= 1


async def test_pool_squeezed_to_two_connections(
    aiohttp_client, settings: Settings, factory: Factory
) -> None:
    client = await aiohttp_client(
        create_app(replace(settings, db_pool_max=2, db_acquire_timeout=0.3))
    )
    database = client.app[DATABASE]
    users = await factory.users(50, balance=0)
    peak = 0

    async def watch() -> None:  # what a scraper sees, read through /metrics
        nonlocal peak
        while True:
            families = await _families(client)
            pending = families["db_client_connection_pending_requests"].samples[0].value
            peak = max(peak, int(pending))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())

    # Two long borrowers keep both connections busy past the acquire timeout of some requests.
    async def slow() -> None:
        async with database.session() as s:
            await s.fetch_one("test.sleep", "SELECT SLEEP(0.5)")

    blockers = [asyncio.create_task(slow()) for _ in range(2)]
    await asyncio.sleep(0.05)
    responses = await asyncio.gather(
        *(client.post(f"/api/users/{u}/balance/charge", json={"amount": 1}) for u in users)
    )
    await asyncio.gather(*blockers)
    watcher.cancel()
    statuses = [r.status for r in responses]
    assert peak >= 10
    assert statuses.count(503) > 0
    for r in responses:
        if r.status == 503:
            await problem(r, 503, "DB001")
    families = await _families(client)
    timeouts = next(
        s.value
        for s in families["db_client_connection_timeouts"].samples
        if s.name.endswith("_total")
    )
    assert timeouts == statuses.count(503)
    waits = next(
        s.value
        for s in families["db_client_connection_wait_time_seconds"].samples
        if s.name.endswith("_count")
    )
    assert waits >= 52
    slow_waits = [
        s
        for s in families["db_client_connection_wait_time_seconds"].samples
        if s.name.endswith("_bucket")
    ]
    under_100ms = next(s.value for s in slow_waits if s.labels["le"] == "0.1")
    assert waits - under_100ms >= 10  # many requests waited long for a connection
    # Nothing leaked: every connection came back, no one is waiting.
    assert (database.used, database.pending) == (0, 0)
    gauge = {s.labels["state"]: s.value for s in families["db_client_connection_count"].samples}
    assert gauge["used"] == 0
    assert [s.value for s in families["db_client_connection_max"].samples] == [2]
    # Charges that answered 503 wrote nothing; the others were applied exactly once.
    assert await factory.scalar_over(
        "SELECT SUM(balance) FROM users WHERE user_id IN ({ids})", users
    ) == statuses.count(200)


async def test_log_line_carries_the_trace_id_of_its_span(
    aiohttp_client, settings: Settings, factory: Factory, capfd: pytest.CaptureFixture[str]
) -> None:
    exporter = InMemorySpanExporter()
    client = await aiohttp_client(
        create_app(replace(settings, log_level="INFO"), Overrides(span_exporter=exporter))
    )
    user = await factory.user()
    capfd.readouterr()
    await client.get(f"/api/users/{user}/balance")
    flush_logs()  # request lines leave in batches
    lines = [
        json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")
    ]
    [entry] = [line for line in lines if line.get("event") == "request"]
    [span] = [s for s in exporter.get_finished_spans() if s.name.startswith("GET ")]
    assert entry["trace_id"] == format(span.context.trace_id, "032x")
    assert entry["span_id"] == format(span.context.span_id, "016x")
    assert entry["route"] == "/api/users/{userId}/balance"
    assert entry["status"] == 200


async def test_a_load_generators_trace_is_continued_and_marked_synthetic(
    traced_client, exporter: InMemorySpanExporter, factory: Factory
) -> None:
    """The shop's span joins the trace a caller's `traceparent` names (so a load report's slow
    request opens in the tracer), and `synthetic` baggage marks it; without them, a new trace."""
    user = await factory.user()
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {
        "traceparent": f"00-{trace_id}-{parent_id}-01",
        "baggage": "synthetic=load-test",
    }
    assert (await traced_client.get(f"/api/users/{user}/balance", headers=headers)).status == 200
    assert (await traced_client.get(f"/api/users/{user}/balance")).status == 200
    joined, own = [s for s in exporter.get_finished_spans() if s.name.startswith("GET ")]
    assert format(joined.context.trace_id, "032x") == trace_id
    assert joined.parent is not None
    assert format(joined.parent.span_id, "016x") == parent_id
    assert dict(joined.attributes or {})["shop.synthetic"] == "load-test"
    assert format(own.context.trace_id, "032x") != trace_id
    assert own.parent is None
    assert "shop.synthetic" not in dict(own.attributes or {})


async def test_incident_switches(client, admin_headers, factory: Factory) -> None:
    listed = await (await client.get("/api/admin/incidents", headers=admin_headers)).json()
    assert {s["switch"] for s in listed} >= {"db_pool_max", "order_lock_scope"}
    url = "/api/admin/incidents/db_pool_max"
    changed = await client.put(url, json={"value": 10}, headers=admin_headers)
    assert changed.status == 200
    assert (await changed.json())["on"] is True
    assert client.app[DATABASE].maxsize == 10
    families = await _families(client)
    switch = {
        s.labels["switch"]: (s.labels["value"], s.value)
        for s in families["shop_incident_switch"].samples
    }
    assert switch["db_pool_max"] == ("10", 1)
    assert switch["order_lock_scope"] == ("user", 0)
    await problem(await client.put(url, json={"value": 0}, headers=admin_headers), 400, "COMMON002")
    await problem(await client.put(url, json={}, headers=admin_headers), 400, "COMMON001")
    await problem(await client.put(url, json={"value": 5}), 401, "COMMON003")
    await problem(
        await client.put("/api/admin/incidents/nope", json={"value": 1}, headers=admin_headers),
        404,
        "INC001",
    )
    assert client.app[DATABASE].maxsize == 10
    # "normal" is every switch's way back, whatever its normal value is.
    back = await client.put(url, json={"value": "normal"}, headers=admin_headers)
    assert await back.json() == {**await changed.json(), "value": 20, "on": False}
    assert client.app[DATABASE].maxsize == 20
    samples = (await _families(client))["shop_incident_switch"].samples
    assert [
        (s.labels["value"], s.value) for s in samples if s.labels["switch"] == "db_pool_max"
    ] == [("20", 0)], "one series per switch: the previous value's is gone"


async def test_global_order_lock_scope_serialises_every_order(
    aiohttp_client, settings: Settings, factory: Factory, admin_headers
) -> None:
    locks = LocalLockManager(wait=0.1)
    client = await aiohttp_client(create_app(settings, Overrides(locks=locks)))
    user, _ = await carted(client, factory, price=10)
    await client.put(
        "/api/admin/incidents/order_lock_scope", json={"value": "global"}, headers=admin_headers
    )
    async with locks.hold("order:global", name="order", wait=1, lease=5):
        await problem(await client.post("/api/orders", json={"userId": user}), 409, "LOCK001")
    await client.put(
        "/api/admin/incidents/order_lock_scope", json={"value": "user"}, headers=admin_headers
    )
    async with locks.hold("order:global", name="order", wait=1, lease=5):
        assert (await client.post("/api/orders", json={"userId": user})).status == 200


async def test_a_switch_flipped_on_one_replica_reaches_the_others(
    aiohttp_client, settings: Settings, admin_headers
) -> None:
    one, two = await two_replicas(aiohttp_client, settings)
    flipped = await one.put(
        "/api/admin/incidents/db_pool_max", json={"value": 7}, headers=admin_headers
    )
    assert flipped.status == 200
    deadline = time.monotonic() + 1.0
    while two.app[DATABASE].maxsize != 7:
        assert time.monotonic() < deadline, "the other replica did not follow within a second"
        await asyncio.sleep(0.05)
    listed = await (await two.get("/api/admin/incidents", headers=admin_headers)).json()
    assert {s["switch"]: s["value"] for s in listed}["db_pool_max"] == 7


async def test_db_latency_switch_slows_every_statement_then_recovers(
    client, admin_headers, factory: Factory
) -> None:
    user = await factory.user()
    url = "/api/admin/incidents/db_latency_ms"

    async def timed_read() -> float:
        started = time.perf_counter()
        assert (await client.get(f"/api/users/{user}/balance")).status == 200
        return time.perf_counter() - started

    assert (await client.put(url, json={"value": 300}, headers=admin_headers)).status == 200
    assert await timed_read() >= 0.3
    assert (await client.put(url, json={"value": 0}, headers=admin_headers)).status == 200
    assert await timed_read() < 0.3


async def test_redis_calls_have_client_spans(
    aiohttp_client, settings: Settings, factory: Factory
) -> None:
    exporter = InMemorySpanExporter()
    redis_settings = replace(
        settings,
        redis_url=REDIS_URL,
        lock_backend="redis",
        redis_prefix=f"{settings.redis_prefix}{uuid.uuid4().hex[:12]}:",
    )
    client = await aiohttp_client(create_app(redis_settings, Overrides(span_exporter=exporter)))
    user = await factory.user()
    coupon = await factory.coupon()
    assert (
        await client.post(f"/api/users/{user}/balance/charge", json={"amount": 5})
    ).status == 200
    assert (await client.post(f"/api/coupons/{coupon}/issue", json={"userId": user})).status == 200
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    names = {s.name for s in spans}
    assert {"redis.lock.acquire_script", "redis.lock.release_script"} <= names
    assert "redis.coupon_gate.load" in names
    # A batch of issues asks the gate once for all of them.
    assert "redis.coupon_gate.admit_many" in names
    acquire = next(s for s in spans if s.name == "redis.lock.acquire_script")
    assert by_id[acquire.parent.span_id].name == "lock.acquire charge"
    assert all(s.attributes["db.system"] == "redis" for s in spans if s.name.startswith("redis."))


def _log_lines(capfd: pytest.CaptureFixture[str]) -> list[dict]:
    flush_logs()
    return [json.loads(x) for x in capfd.readouterr().out.splitlines() if x.startswith("{")]


async def test_warning_lines_carry_the_route_trace_and_user_of_their_request(
    aiohttp_client, settings: Settings, factory: Factory, capfd: pytest.CaptureFixture[str]
) -> None:
    """Bound once per request, the context reaches lines written deep below the handler."""
    client = await aiohttp_client(
        create_app(
            replace(
                settings, log_level="INFO", lock_wait=0.1, db_pool_max=1, db_acquire_timeout=0.2
            )
        )
    )
    user = await factory.user()
    charge = "/api/users/{userId}/balance/charge"
    capfd.readouterr()
    async with client.app[DEPS].locks.hold(f"charge:user:{user}", name="charge", wait=1, lease=5):
        await problem(
            await client.post(f"/api/users/{user}/balance/charge", json={"amount": 1}),
            409,
            "LOCK001",
        )
    async with client.app[DATABASE].session():  # the pool's only connection
        await problem(await client.get(f"/api/users/{user}/balance"), 503, "DB001")
    lines = _log_lines(capfd)
    requests = {line["route"]: line for line in lines if line["event"] == "request"}
    for event, route in (
        ("lock_timeout", charge),
        ("pool_exhausted", "/api/users/{userId}/balance"),
    ):
        [line] = [x for x in lines if x["event"] == event]
        assert line["route"] == route, line
        assert line["user_id"] == user, line
        assert line["trace_id"] == requests[route]["trace_id"], line
        assert requests[route]["user_id"] == user


@pytest.mark.parametrize("backend", ["local", "redis"])
async def test_a_lost_lease_is_logged_with_its_request(
    aiohttp_client, settings: Settings, factory: Factory, admin_headers, capfd, backend: str
) -> None:
    chosen = replace(settings, log_level="INFO", lock_lease=0.2)
    if backend == "redis":
        chosen = replace(
            chosen,
            lock_backend="redis",
            redis_url="redis://127.0.0.1:6379/0",
            redis_prefix=f"{REDIS_PREFIX}{uuid.uuid4().hex[:12]}:",
        )
    client = await aiohttp_client(create_app(chosen))
    user, first = await factory.users(2)
    # The first lock taken starts the backend's watchdog inside that request: its context
    # must not become every later loss's.
    assert (
        await client.post(f"/api/users/{first}/balance/charge", json={"amount": 1})
    ).status == 200
    slow = {"value": 150}
    assert (
        await client.put("/api/admin/incidents/db_latency_ms", json=slow, headers=admin_headers)
    ).status == 200
    capfd.readouterr()
    charging = asyncio.create_task(
        client.post(f"/api/users/{user}/balance/charge", json={"amount": 1})
    )
    if backend == "redis":  # renewed leases do not lapse: another holder takes the key instead
        await asyncio.sleep(0.1)
        redis = client.app[REDIS].client  # the readiness probe's client
        assert await redis.delete(f"{chosen.redis_prefix}lock:charge:user:{user}") == 1
    await problem(await charging, 503, "LOCK003")
    lines = _log_lines(capfd)
    lost = [x for x in lines if x["event"] == "lease_lost"]
    assert lost, lines
    for line in lost:
        assert line["route"] == "/api/users/{userId}/balance/charge"
        assert line["user_id"] == user
