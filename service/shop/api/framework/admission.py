"""Admission control as middleware: each route's priority, the gate, and 503 OVERLOADED.

Health, readiness, metrics, the OpenAPI document and every admin route are never shed: an
overloaded shop must still say how it is, be scraped, and take an operator's switch. The
others pass the gate by priority (`shop.admission.gate`): reads are shed first, then writes,
and orders and balance charges last (docs/decisions/0041-admission-control.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ...admission.gate import REASONS, Gate, Priority, Shed
from ...admission.limit import GradientLimit
from ...keys import ARRIVED_AT
from ...settings import Settings
from ...telemetry import Telemetry
from .endpoint import Route
from .http_errors import Overloaded
from .middleware import route_template
from .openapi import OPERATIONS

# Money in motion: shed only once everything else is.
CRITICAL = frozenset({("POST", "/api/orders"), ("POST", "/api/users/{userId}/balance/charge")})


def priorities(routes: Iterable[Route]) -> dict[tuple[str, str], Priority]:
    """(method, route template) -> priority, for every route the gate may shed."""
    table: dict[tuple[str, str], Priority] = {}
    for route in routes:
        key = (route.method, route.path)
        if route.tag == OPERATIONS or route.admin:
            continue
        if key in CRITICAL:
            table[key] = Priority.CRITICAL
        elif route.method in ("GET", "HEAD"):
            table[key] = Priority.SHEDDABLE
        else:
            table[key] = Priority.STANDARD
    return table


def build_gate(settings: Settings) -> Gate | None:
    """The process's gate, or None when SHOP_ADMISSION is off."""
    if settings.admission != "on":
        return None
    limit = GradientLimit(
        initial=settings.admission_initial_limit,
        min_limit=settings.admission_min_limit,
        max_limit=settings.admission_max_limit,
    )
    return Gate(
        limit,
        clock=time.monotonic,
        interval=settings.admission_queue_interval,
        target=settings.admission_queue_target,
    )


def admission(
    gate: Gate, table: Mapping[tuple[str, str], Priority], telemetry: Telemetry
) -> Middleware:
    """The middleware passing each sheddable request through `gate` (inside `telemetry`,
    which maps its refusals)."""
    metrics = telemetry.metrics
    metrics.read("shop_admission_limit", lambda: [((), gate.limit.current)])
    metrics.read("shop_admission_in_flight", lambda: [((), gate.in_flight)])
    metrics.read("shop_admission_queued", lambda: [((), gate.waiting)])
    for _, path in table:  # at zero from the start, so increase() sees the first refusal
        for reason in REASONS:
            metrics.child(metrics.admission_refusals, reason, path)

    @web.middleware
    async def admit(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = route_template(request)
        priority = table.get((request.method, route))
        if priority is None:
            return await handler(request)
        arrived = request.get(ARRIVED_AT)
        waited = 0.0 if arrived is None else max(0.0, time.monotonic() - arrived)
        name = priority.name.lower()
        try:
            waited = await gate.enter(priority, waited=waited)
        except Shed as shed:
            metrics.child(metrics.admission_queue, name, "refused").observe(shed.waited)
            metrics.child(metrics.admission_refusals, shed.reason, route).inc()
            raise Overloaded(
                f"the shop is over capacity ({shed.reason.replace('_', ' ')}); retry later"
            ) from None
        metrics.child(metrics.admission_queue, name, "admitted").observe(waited)
        started = time.monotonic()
        try:
            return await handler(request)
        finally:
            gate.leave(started=started)

    return admit
