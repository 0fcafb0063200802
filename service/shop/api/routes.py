"""Every route, once: the router and the OpenAPI document are both built from this table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from . import admin, auth, balance, carts, coupons, incidents, openapi, ops, orders, products
from .admin import Handler, admin_only
from .auth import user_only


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: str  # "path" or "query"
    schema: Mapping[str, object]
    required: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    response: str | None = None  # schema name; "[Name]" for a list
    request: str | None = None
    status: int = 200
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    admin: bool = False
    user: bool = False  # acts on one user's data: a user token when SHOP_AUTH=required
    idempotent: bool = False  # honours the Idempotency-Key header
    extra: dict[str, object] = field(default_factory=dict)


_STR: Mapping[str, object] = {"type": "string"}
_USER_PATH = Param("userId", "path", _STR, True)
_USER_QUERY = Param("userId", "query", _STR, True)


def _int(minimum: int, maximum: int, default: int | None = None) -> dict[str, object]:
    schema: dict[str, object] = {"type": "integer", "minimum": minimum, "maximum": maximum}
    if default is not None:
        schema["default"] = default
    return schema


ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", ops.healthz, "Liveness", "operations", "Health"),
    Route(
        "GET",
        "/readyz",
        ops.readyz,
        "Readiness of MySQL and Redis",
        "operations",
        "Health",
        errors=(503,),
    ),
    Route("GET", "/api/openapi.json", openapi.serve, "This document", "operations"),
    Route(
        "GET",
        "/api/users/{userId}/balance",
        balance.get_balance,
        "A user's balance",
        "balance",
        "Balance",
        params=(_USER_PATH,),
        errors=(404,),
        user=True,
    ),
    Route(
        "POST",
        "/api/users/{userId}/balance/charge",
        balance.charge,
        "Charge a balance",
        "balance",
        "ChargeReceipt",
        "ChargeRequest",
        params=(_USER_PATH,),
        errors=(400, 404, 409, 503),
        user=True,
        idempotent=True,
    ),
    Route(
        "GET",
        "/api/users/{userId}/balance/history",
        balance.history,
        "Balance movements, newest first",
        "balance",
        "[BalanceChange]",
        params=(_USER_PATH, Param("limit", "query", _int(1, 100, 20))),
        errors=(400, 404),
        user=True,
    ),
    Route(
        "GET",
        "/api/products",
        products.list_products,
        "The catalogue",
        "products",
        "[Product]",
        params=(
            Param("category", "query", _STR),
            Param("sort", "query", {"enum": ["price", "popularity", "newest"]}),
        ),
        errors=(400,),
    ),
    Route(
        "GET",
        "/api/products/popular",
        products.popular,
        "Best sellers of the last days",
        "products",
        "[PopularProduct]",
        params=(Param("days", "query", _int(1, 30, 3)), Param("limit", "query", _int(1, 100, 5))),
        errors=(400,),
    ),
    Route(
        "GET",
        "/api/products/{productId}",
        products.get_product,
        "One product",
        "products",
        "Product",
        params=(Param("productId", "path", _STR, True),),
        errors=(404,),
    ),
    Route(
        "GET",
        "/api/products/{productId}/stock",
        products.get_stock,
        "A product's stock",
        "products",
        "Stock",
        params=(Param("productId", "path", _STR, True),),
        errors=(404,),
    ),
    Route(
        "GET",
        "/api/cart",
        carts.get_cart,
        "The user's cart",
        "cart",
        "Cart",
        params=(_USER_QUERY,),
        errors=(400, 404),
        user=True,
    ),
    Route(
        "POST",
        "/api/cart/items",
        carts.add_item,
        "Add a product to the cart",
        "cart",
        "CartItem",
        "AddCartItem",
        errors=(400, 404),
        user=True,
    ),
    Route(
        "PATCH",
        "/api/cart/items/{cartItemId}",
        carts.change_item,
        "Change a line's quantity",
        "cart",
        "CartItem",
        "ChangeCartItem",
        params=(Param("cartItemId", "path", _STR, True), _USER_QUERY),
        errors=(400, 404),
        user=True,
    ),
    Route(
        "DELETE",
        "/api/cart/items/{cartItemId}",
        carts.remove_item,
        "Remove a line",
        "cart",
        "Message",
        params=(Param("cartItemId", "path", _STR, True), _USER_QUERY),
        errors=(400, 404),
        user=True,
    ),
    Route(
        "POST",
        "/api/coupons",
        coupons.create,
        "Create a coupon (admin)",
        "coupons",
        "Coupon",
        "CreateCoupon",
        status=201,
        errors=(400, 401, 403),
        admin=True,
    ),
    Route(
        "GET",
        "/api/coupons",
        coupons.list_coupons,
        "Coupons still available",
        "coupons",
        "[Coupon]",
    ),
    Route(
        "POST",
        "/api/coupons/validate",
        coupons.validate,
        "What a coupon takes off an amount",
        "coupons",
        "CouponCheck",
        "ValidateCoupon",
        errors=(400, 404),
    ),
    Route(
        "POST",
        "/api/coupons/{couponId}/issue",
        coupons.issue,
        "Issue a coupon, first come first served",
        "coupons",
        "IssuedCoupon",
        "IssueCoupon",
        params=(Param("couponId", "path", _STR, True),),
        errors=(400, 404, 409, 503),
        user=True,
        idempotent=True,
    ),
    Route(
        "GET",
        "/api/users/{userId}/coupons",
        coupons.of_user,
        "A user's coupons",
        "coupons",
        "[UserCoupon]",
        params=(_USER_PATH, Param("status", "query", {"enum": ["AVAILABLE", "USED", "EXPIRED"]})),
        errors=(400, 404),
        user=True,
    ),
    Route(
        "POST",
        "/api/orders",
        orders.place,
        "Order the cart and pay from the balance",
        "orders",
        "Order",
        "PlaceOrder",
        errors=(400, 404, 409, 503),
        user=True,
        idempotent=True,
    ),
    Route(
        "GET",
        "/api/orders",
        orders.list_orders,
        "A user's orders, paged",
        "orders",
        "OrderPage",
        params=(
            _USER_QUERY,
            Param("page", "query", _int(1, 1_000_000, 1)),
            Param("limit", "query", _int(1, 100, 10)),
            Param("status", "query", {"enum": ["PENDING", "PAID", "CANCELLED"]}),
        ),
        errors=(400, 404),
        user=True,
    ),
    Route(
        "GET",
        "/api/orders/{orderId}",
        orders.get_order,
        "One order",
        "orders",
        "Order",
        params=(Param("orderId", "path", _STR, True),),
        errors=(404,),
        user=True,
    ),
    Route(
        "GET",
        "/api/admin/incidents",
        incidents.list_switches,
        "Incident switches (admin)",
        "admin",
        "[IncidentSwitch]",
        errors=(401, 403),
        admin=True,
    ),
    Route(
        "PUT",
        "/api/admin/incidents/{switch}",
        incidents.set_switch,
        "Flip an incident switch (admin)",
        "admin",
        "IncidentSwitch",
        "SetIncidentSwitch",
        params=(Param("switch", "path", _STR, True),),
        errors=(400, 401, 403, 404),
        admin=True,
    ),
    Route(
        "GET", "/metrics", ops.metrics, "Prometheus metrics (OpenMetrics on request)", "operations"
    ),
    Route(
        "POST",
        "/api/admin/tokens",
        auth.mint,
        "Mint a user bearer token (admin)",
        "admin",
        "UserToken",
        "MintToken",
        status=201,
        errors=(400, 401, 403),
        admin=True,
    ),
    Route(
        "POST",
        "/api/admin/seed",
        admin.seed,
        "Seed the load-test data set (admin)",
        "admin",
        "SeedReport",
        "SeedRequest",
        errors=(400, 401, 403),
        admin=True,
    ),
)


def add_routes(app: web.Application) -> None:
    """Register every route of the table."""
    for route in ROUTES:
        handler = route.handler
        if route.admin:
            handler = admin_only(handler)
        elif route.user:
            handler = user_only(handler)
        app.router.add_route(route.method, route.path, handler)
