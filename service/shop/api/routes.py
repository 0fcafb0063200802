"""Every route, once: the router and the OpenAPI document are both built from this table.

What a route accepts and answers is read from its handler's annotations (`endpoint.py`); this
table adds only what the types cannot say: the path, the success status and the refusals.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from ..keys import ROUTE_LIMITS, SETTINGS
from .framework.endpoint import Route, TypedHandler, bind
from .handlers import admin, balance, carts, coupons, incidents, ops, orders, products, tokens
from .handlers.admin import admin_listener_only, admin_only
from .types.outputs import Health

_TEXT = {"type": "string"}
METRICS_CONTENT = {
    "text/plain": _TEXT,
    "application/openmetrics-text": _TEXT,
}
OPENAPI_CONTENT = {"application/json": {"type": "object"}}


def _link(operation: str, **parameters: str) -> dict[str, object]:
    return {"operationId": operation, "parameters": parameters}


def _keyed_write(
    path: str,
    handler: TypedHandler,
    summary: str,
    tag: str,
    *,
    prod_scope: str = "",
    links: Mapping[str, Mapping[str, object]] | None = None,
) -> Route:
    """A POST on one user's data that honours Idempotency-Key (the charge, the coupon issue and
    the order): besides a bad request (400) and an unknown id (404), it may be refused or still
    in progress under its key (409), or find the database or the lock backend away (503)."""
    return Route(
        "POST",
        path,
        handler,
        summary,
        tag,
        errors=(400, 404, 409, 503),
        user=True,
        idempotent=True,
        prod_scope=prod_scope,
        links=links or {},
    )


_ITEM = {"cartItemId": "$response.body#/cartItemId", "userId": "$request.body#/userId"}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", ops.healthz, "Liveness", "operations"),
    Route(
        "GET",
        "/readyz",
        ops.readyz,
        "Readiness of MySQL and Redis",
        "operations",
        documented={200: Health, 503: Health},
    ),
    Route(
        "GET",
        "/api/openapi.json",
        ops.openapi,
        "This document",
        "operations",
        content=OPENAPI_CONTENT,
    ),
    Route(
        "GET",
        "/api/users/{userId}/balance",
        balance.get_balance,
        "A user's balance",
        "balance",
        errors=(404,),
        user=True,
    ),
    _keyed_write(
        "/api/users/{userId}/balance/charge",
        balance.charge,
        "Charge a balance (in production: the payment service's `charges` credential)",
        "balance",
        prod_scope="charges",
    ),
    Route(
        "GET",
        "/api/users/{userId}/balance/history",
        balance.history,
        "Balance movements, newest first",
        "balance",
        errors=(400, 404),
        user=True,
    ),
    Route("GET", "/api/products", products.list_products, "The catalogue", "products"),
    Route(
        "GET",
        "/api/products/popular",
        products.popular,
        "Best sellers of the last days",
        "products",
    ),
    Route(
        "GET",
        "/api/products/{productId}",
        products.get_product,
        "One product",
        "products",
        errors=(404,),
    ),
    Route(
        "GET",
        "/api/products/{productId}/stock",
        products.get_stock,
        "A product's stock",
        "products",
        errors=(404,),
    ),
    Route(
        "GET",
        "/api/cart",
        carts.get_cart,
        "The user's cart",
        "cart",
        errors=(404,),
        user=True,
    ),
    Route(
        "POST",
        "/api/cart/items",
        carts.add_item,
        "Add a product to the cart",
        "cart",
        errors=(404,),
        user=True,
        links={
            "ChangeItem": _link("cart.change_item", **_ITEM),
            "RemoveItem": _link("cart.remove_item", **_ITEM),
            "PlaceOrder": {
                "operationId": "orders.place",
                "requestBody": {"userId": "$request.body#/userId"},
            },
        },
    ),
    Route(
        "PATCH",
        "/api/cart/items/{cartItemId}",
        carts.change_item,
        "Change a line's quantity",
        "cart",
        errors=(404,),
        user=True,
    ),
    Route(
        "DELETE",
        "/api/cart/items/{cartItemId}",
        carts.remove_item,
        "Remove a line",
        "cart",
        errors=(404,),
        user=True,
    ),
    Route(
        "POST",
        "/api/coupons",
        coupons.create,
        "Create a coupon (admin)",
        "coupons",
        status=201,
        links={"Issue": _link("coupons.issue", couponId="$response.body#/couponId")},
        scope="coupons",
    ),
    Route("GET", "/api/coupons", coupons.list_coupons, "Coupons still available", "coupons"),
    Route(
        "POST",
        "/api/coupons/validate",
        coupons.validate,
        "What a coupon takes off an amount",
        "coupons",
        errors=(404,),
    ),
    _keyed_write(
        "/api/coupons/{couponId}/issue",
        coupons.issue,
        "Issue a coupon, first come first served",
        "coupons",
    ),
    Route(
        "GET",
        "/api/users/{userId}/coupons",
        coupons.of_user,
        "A user's coupons",
        "coupons",
        errors=(404,),
        user=True,
    ),
    _keyed_write(
        "/api/orders",
        orders.place,
        "Order the cart and pay from the balance",
        "orders",
        links={"GetOrder": _link("orders.get_order", orderId="$response.body#/orderId")},
    ),
    Route(
        "GET",
        "/api/orders",
        orders.list_orders,
        "A user's orders, paged",
        "orders",
        errors=(404,),
        user=True,
    ),
    Route(
        "GET",
        "/api/orders/{orderId}",
        orders.get_order,
        "One order",
        "orders",
        errors=(404,),
        user=True,
    ),
    Route(
        "GET",
        "/api/admin/incidents",
        incidents.list_switches,
        "Incident switches (admin)",
        "admin",
        scope="incidents",
    ),
    Route(
        "PUT",
        "/api/admin/incidents/{switch}",
        incidents.set_switch,
        "Flip an incident switch (admin)",
        "admin",
        errors=(404, 503),
        scope="incidents",
    ),
    Route(
        "GET",
        "/metrics",
        ops.metrics,
        "Prometheus metrics (OpenMetrics on request)",
        "operations",
        content=METRICS_CONTENT,
        private=True,
    ),
    Route(
        "POST",
        "/api/admin/tokens",
        tokens.mint,
        "Mint a user bearer token (admin)",
        "admin",
        status=201,
        scope="tokens",
    ),
    Route(
        "POST",
        "/api/admin/revocations",
        tokens.revoke,
        "Refuse every token of a user issued until now (admin)",
        "admin",
        scope="tokens",
    ),
    Route(
        "POST",
        "/api/admin/seed",
        admin.seed,
        "Seed the load-test data set (admin)",
        "admin",
        scope="seed",
    ),
)


def add_routes(app: web.Application) -> None:
    """Register every route of the table."""
    settings = app[SETTINGS]
    user_auth = settings.auth == "required"
    app[ROUTE_LIMITS] = {}
    for route in ROUTES:
        scope = route.prod_scope if settings.env == "prod" and route.prod_scope else route.scope
        handler = bind(route, user_auth=user_auth and route.user and not scope)
        if scope:
            handler = admin_only(handler, scope)
        if settings.admin_port and route.on_admin_listener:
            handler = admin_listener_only(handler, settings.admin_port)
        # An admin credential's holder is not limited per client (nor is the payment service).
        app[ROUTE_LIMITS][route.method, route.path] = "" if scope else route.limited_by
        app.router.add_route(route.method, route.path, handler)
