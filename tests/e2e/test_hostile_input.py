"""Hostile input: every limit is a 4xx problem+json, and nothing is written.

Raw sockets send what a well-behaved client library would not: over-long request lines and
headers, too many headers, garbage, and requests that trickle in too slowly.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import replace

import pytest

from shop.api.framework.endpoint import Route
from shop.api.framework.responses import SECURITY_HEADERS
from shop.api.framework.server import MAX_HEADER_FIELD, MAX_HEADERS, MAX_REQUEST_LINE
from shop.api.routes import ROUTES
from shop.api.types.inputs import NoInput
from shop.app import create_app
from shop.settings import Settings

from ..factories import Factory
from ..metrics_text import metric_sum
from .conftest import problem

JSON = {"Content-Type": "application/json"}


async def _raw(client, payload: bytes, *, pause_after: int | None = None) -> tuple[int, dict]:
    """Send raw bytes (optionally stalling after `pause_after` of them); read the answer."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(payload if pause_after is None else payload[:pause_after])
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
        body = await asyncio.wait_for(
            reader.readexactly(int(headers["content-length"])), timeout=30
        )
    finally:
        writer.close()
    assert headers["content-type"].startswith("application/problem+json"), headers
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value, headers
    problem_body = json.loads(body)
    assert problem_body["status"] == status
    return status, problem_body


async def test_an_over_long_request_line_is_a_problem(client) -> None:
    path = "/api/products/" + "p" * (MAX_REQUEST_LINE + 10)
    status, body = await _raw(client, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert (status, body["code"]) == (431, "COMMON002")


async def test_an_over_long_header_is_a_problem(client) -> None:
    header = "X-Pad: " + "x" * (MAX_HEADER_FIELD + 10)
    status, body = await _raw(client, f"GET /healthz HTTP/1.1\r\n{header}\r\n\r\n".encode())
    assert (status, body["code"]) == (431, "COMMON002")


async def test_too_many_headers_is_a_problem(client) -> None:
    headers = "".join(f"X-H{n}: {n}\r\n" for n in range(MAX_HEADERS + 5))
    status, body = await _raw(client, f"GET /healthz HTTP/1.1\r\n{headers}\r\n".encode())
    assert (status, body["code"]) == (431, "COMMON002")


async def test_garbage_is_a_problem(client) -> None:
    status, body = await _raw(client, b"\x16\x03\x01 not http at all\r\n\r\n")
    assert (status, body["code"]) == (400, "COMMON002")


async def test_headers_sent_too_slowly_get_408(aiohttp_client, settings: Settings) -> None:
    client = await aiohttp_client(create_app(replace(settings, client_timeout=0.5)))
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    status, body = await _raw(client, request, pause_after=10)
    assert (status, body["code"]) == (408, "COMMON002")


async def test_a_body_sent_too_slowly_gets_408_and_writes_nothing(
    aiohttp_client, settings: Settings, factory: Factory
) -> None:
    client = await aiohttp_client(create_app(replace(settings, client_timeout=0.5)))
    user = await factory.user(balance=0)
    body = b'{"amount": 5}'
    request = (
        f"POST /api/users/{user}/balance/charge HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    status, answer = await _raw(client, request, pause_after=len(request) - 4)
    assert (status, answer["code"]) == (408, "COMMON002")
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 0


async def test_a_kept_alive_connection_may_idle_between_requests(
    aiohttp_client, settings: Settings
) -> None:
    """The header clock starts with a request's first byte, not with the connection."""
    client = await aiohttp_client(create_app(replace(settings, client_timeout=0.3)))
    assert (await client.get("/healthz")).status == 200
    await asyncio.sleep(0.5)
    assert (await client.get("/healthz")).status == 200


async def test_non_json_bodies_are_refused(client, factory: Factory) -> None:
    user = await factory.user(balance=0)
    url = f"/api/users/{user}/balance/charge"
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        response = await client.post(
            url, data=b'{"amount": 5}', headers={"Content-Type": content_type}
        )
        await problem(response, 415, "COMMON002")
    assert (await client.post(url, data=b'{"amount": 5}', headers=JSON)).status == 200
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 5


async def test_duplicate_json_keys_are_refused(client, factory: Factory) -> None:
    user = await factory.user(balance=0)
    url = f"/api/users/{user}/balance/charge"
    for raw in (
        b'{"amount": 1, "amount": 1000}',
        b'{"amount": 1, "note": "a:b", "amount": 2}',
        b'{"amount": 1, "meta": {"k": 1, "k": 2}}',
    ):
        body = await problem(await client.post(url, data=raw, headers=JSON), 400, "COMMON002")
        assert "twice" in body["message"]
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 0


async def test_path_ids_are_length_checked(client) -> None:
    too_long = "u" * 65
    await problem(await client.get(f"/api/users/{too_long}/balance"), 400, "COMMON002")
    await problem(await client.get(f"/api/products/{too_long}"), 400, "COMMON002")
    await problem(await client.get(f"/api/orders/{'9' * 65}"), 400, "COMMON002")
    await problem(await client.get(f"/api/orders/{'9' * 30}"), 404, "O002")


async def test_405_names_the_allowed_methods(client) -> None:
    response = await client.put("/api/products")
    await problem(response, 405, "COMMON006")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}


_DEEP = 3 * sys.getrecursionlimit()
HOSTILE_BODIES = {
    "deep array": b'{"userId": ' + b"[" * _DEEP + b"]" * _DEEP + b"}",
    "deep object": b'{"x": ' + b'{"a":' * _DEEP + b"1" + b"}" * _DEEP + b"}",
    "huge number": b'{"x": 1' + b"0" * 5000 + b"}",
    "invalid UTF-8": b'{"x": "\xff\xfe"}',
    "invalid UTF-8 key": b'{"\xff": 1}',
    "duplicate key": b'{"x": 1, "x": 2}',
}
_PARAMS = {"cartItemId": "1", "switch": "slow_queries"}
# Every body type's required fields, valid (undeclared ones are ignored): the hostile member
# must get past the typed decoder to reach the checks behind it.
_VALID = (
    b'{"userId": "u1", "amount": 1, "quantity": 1, "value": "normal", "productId": "p1",'
    b' "couponId": "c1", "orderAmount": 1, "name": "n", "discountType": "FIXED",'
    b' "discountValue": 1, "totalQuantity": 1, "expiresAt": "2030-01-01T00:00:00Z", '
)


def _url(route: Route, value: str | None = None) -> str:
    """The route's path with every parameter filled (with `value`, when given)."""
    path = route.path
    for name in re.findall(r"\{(\w+)\}", path):
        path = path.replace(f"{{{name}}}", value or _PARAMS.get(name, "u1"))
    return path


@pytest.mark.parametrize(
    "route",
    [r for r in ROUTES if r.signature.body is not NoInput],
    ids=lambda r: f"{r.method} {r.path}",
)
async def test_hostile_bodies_are_400_on_every_route_with_a_body(
    client, admin_headers: dict[str, str], route: Route
) -> None:
    """Each hostile body, valid fields beside it, is a 400 problem (no decoder error escapes)."""
    url = _url(route) + "?userId=u1"
    for name, raw in HOSTILE_BODIES.items():
        response = await client.request(
            route.method, url, data=_VALID + raw[1:], headers={**JSON, **admin_headers}
        )
        body = await problem(response, 400, "COMMON002")
        assert "JSON" in body["message"] or "twice" in body["message"], name


@pytest.mark.parametrize("route", [r for r in ROUTES if "{" in r.path], ids=lambda r: r.path)
async def test_hostile_path_and_query_values_are_4xx(
    client, admin_headers: dict[str, str], route: Route
) -> None:
    query = "?userId=%FF&limit=1e400&page=99999999999999999999&days=-0&cursor=%00"
    for value in ("%FF%FE", "%00", "%C0%80", "9" * 30, "1e400", "-1", "%E2%80%8B"):
        response = await client.request(
            route.method, _url(route, value) + query, data=b"{}", headers={**JSON, **admin_headers}
        )
        assert 400 <= response.status < 500, (value, await response.text())
        assert response.content_type == "application/problem+json"


async def test_a_body_without_content_type_is_415_and_writes_nothing(
    client, factory: Factory
) -> None:
    user = await factory.user(balance=0)
    url = f"/api/users/{user}/balance/charge"
    response = await client.post(url, data=b'{"amount": 5}', skip_auto_headers=["Content-Type"])
    await problem(response, 415, "COMMON002")
    for charset in ("latin-1", "utf-16"):
        headers = {"Content-Type": f"application/json; charset={charset}"}
        await problem(
            await client.post(url, data=b'{"amount": 5}', headers=headers), 415, "COMMON002"
        )
    ok = {"Content-Type": "application/json; charset=UTF-8"}
    assert (await client.post(url, data=b'{"amount": 5}', headers=ok)).status == 200
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 5


async def test_an_idle_kept_alive_connection_is_closed_after_the_keepalive_timeout(
    aiohttp_client, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(replace(settings, keepalive_timeout=0.5)))
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        assert b" 200 " in head.split(b"\r\n")[0]
        length = int(re.search(rb"Content-Length: (\d+)", head)[1])
        await reader.readexactly(length)
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), timeout=10) == b""  # closed by the server
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        writer.close()


async def test_an_invented_method_is_405_and_labelled_other(client) -> None:
    """The method is a metric label: aiohttp's parser accepts dozens (WebDAV, RTSP...); the
    label set stays the nine of RFC 9110 and _OTHER."""
    for method in ("PURGE", "PROPFIND", "MKCOL"):
        await problem(await client.request(method, "/api/products"), 405, "COMMON006")
    exposed = await (await client.get("/metrics")).text()
    sample = "http_server_request_duration_seconds_count"
    assert metric_sum(exposed, sample, http_request_method="_OTHER") == 3
    assert "PROPFIND" not in exposed
