"""The OpenAPI 3.1 document, built from the route table so it cannot drift from the router."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .. import __version__
from ..keys import OPENAPI
from ..settings import MAX_TOKEN_TTL
from .responses import json_response

if TYPE_CHECKING:
    from .routes import Route

Schema = dict[str, Any]


def _obj(required: Iterable[str], **props: Schema) -> Schema:
    return {"type": "object", "required": list(required), "properties": props}


_S: Schema = {"type": "string"}
_I: Schema = {"type": "integer"}
_T: Schema = {"type": "string", "format": "date-time"}
_NT: Schema = {"type": ["string", "null"], "format": "date-time"}
_DISCOUNT: Schema = {"enum": ["FIXED", "PERCENT"]}
_PRODUCT = {"productId": _S, "name": _S, "price": _I, "stock": _I, "category": _S}
_LINE = {"productId": _S, "productName": _S, "price": _I, "quantity": _I, "subtotal": _I}
_COUPON = {
    "couponId": _S,
    "name": _S,
    "discountType": _DISCOUNT,
    "discountValue": _I,
    "totalQuantity": _I,
    "remainingQuantity": _I,
    "minOrderAmount": _I,
    "expiresAt": _T,
}
_ORDER_SUMMARY = {
    "orderId": _S,
    "totalAmount": _I,
    "discountAmount": _I,
    "finalAmount": _I,
    "status": {"enum": ["PENDING", "PAID", "CANCELLED"]},
    "createdAt": _T,
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Schema] = {
    "Health": {"type": "object", "properties": {"status": _S, "checks": {"type": "object"}}},
    "Problem": _obj(
        ["type", "title", "status", "detail", "code", "message", "timestamp"],
        type=_S,
        title=_S,
        status=_I,
        detail=_S,
        instance=_S,
        code=_S,
        message=_S,
        timestamp=_T,
        traceId=_S,
    ),
    "Message": _obj(["message"], message=_S),
    "Balance": _obj(["userId", "balance"], userId=_S, balance=_I),
    "ChargeRequest": _obj(
        ["amount"], amount={"type": "integer", "minimum": 1, "maximum": 10_000_000}
    ),
    "ChargeReceipt": _obj(
        ["userId", "previousBalance", "chargedAmount", "currentBalance", "chargedAt"],
        userId=_S,
        previousBalance=_I,
        chargedAmount=_I,
        currentBalance=_I,
        chargedAt=_T,
    ),
    "BalanceChange": _obj(
        ["amount", "previousBalance", "currentBalance", "reason", "createdAt"],
        amount=_I,
        previousBalance=_I,
        currentBalance=_I,
        reason={"enum": ["CHARGE", "PAYMENT", "REFUND"]},
        createdAt=_T,
    ),
    "Product": _obj(list(_PRODUCT), **_PRODUCT),
    "PopularProduct": _obj([*_PRODUCT, "salesCount"], **_PRODUCT, salesCount=_I),
    "Stock": _obj(
        ["productId", "stock", "available"], productId=_S, stock=_I, available={"type": "boolean"}
    ),
    "CartItem": _obj(["cartItemId", *_LINE], cartItemId=_S, **_LINE),
    "Cart": _obj(
        ["cartId", "userId", "items", "totalAmount"],
        cartId=_S,
        userId=_S,
        items={"type": "array", "items": _ref("CartItem")},
        totalAmount=_I,
    ),
    "AddCartItem": _obj(
        ["userId", "productId", "quantity"],
        userId=_S,
        productId=_S,
        quantity={"type": "integer", "minimum": 1, "maximum": 999},
    ),
    "ChangeCartItem": _obj(
        ["quantity"], quantity={"type": "integer", "minimum": 1, "maximum": 999}
    ),
    "Coupon": _obj(list(_COUPON), **_COUPON),
    "CreateCoupon": _obj(
        ["name", "discountType", "discountValue", "totalQuantity", "expiresAt"],
        name=_S,
        discountType=_DISCOUNT,
        discountValue={"type": "integer", "minimum": 1},
        minOrderAmount={"type": "integer", "minimum": 0},
        totalQuantity={"type": "integer", "minimum": 1},
        expiresAt=_T,
    ),
    "IssueCoupon": _obj(["userId"], userId=_S),
    "IssuedCoupon": _obj(
        ["userCouponId", "couponId", "userId", "issuedAt", "expiresAt", "remainingQuantity"],
        userCouponId=_S,
        couponId=_S,
        userId=_S,
        issuedAt=_T,
        expiresAt=_T,
        remainingQuantity=_I,
    ),
    "ValidateCoupon": _obj(
        ["couponId", "orderAmount"], couponId=_S, orderAmount={"type": "integer", "minimum": 0}
    ),
    "CouponCheck": _obj(
        ["valid", "discountAmount", "finalAmount", "message"],
        valid={"type": "boolean"},
        discountAmount=_I,
        finalAmount=_I,
        message=_S,
    ),
    "UserCoupon": _obj(
        [
            "userCouponId",
            "userId",
            "couponId",
            "name",
            "discountType",
            "discountValue",
            "status",
            "issuedAt",
            "usedAt",
            "expiresAt",
        ],
        userCouponId=_S,
        userId=_S,
        couponId=_S,
        name=_S,
        discountType=_DISCOUNT,
        discountValue=_I,
        status={"enum": ["AVAILABLE", "USED", "EXPIRED"]},
        issuedAt=_T,
        usedAt=_NT,
        expiresAt=_T,
    ),
    "PlaceOrder": _obj(["userId"], userId=_S, couponId={"type": ["string", "null"]}),
    "OrderLine": _obj(list(_LINE), **_LINE),
    "Order": _obj(
        [
            "orderId",
            "userId",
            "status",
            "items",
            "totalAmount",
            "discountAmount",
            "finalAmount",
            "couponId",
            "createdAt",
        ],
        orderId=_S,
        userId=_S,
        status={"enum": ["PENDING", "PAID", "CANCELLED"]},
        items={"type": "array", "items": _ref("OrderLine")},
        totalAmount=_I,
        discountAmount=_I,
        finalAmount=_I,
        couponId={"type": ["string", "null"]},
        createdAt=_T,
    ),
    "OrderSummary": _obj(list(_ORDER_SUMMARY), **_ORDER_SUMMARY),
    "OrderPage": _obj(
        ["orders", "currentPage", "totalPages", "totalCount"],
        orders={"type": "array", "items": _ref("OrderSummary")},
        currentPage=_I,
        totalPages=_I,
        totalCount=_I,
    ),
    "IncidentSwitch": _obj(
        ["switch", "value", "normal", "on", "description"],
        switch=_S,
        value={},
        normal={},
        on={"type": "boolean"},
        description=_S,
    ),
    "SetIncidentSwitch": _obj(["value"], value={}),
    "MintToken": {
        "type": "object",
        "required": ["userId"],
        "properties": {
            "userId": {"type": "string", "minLength": 1, "maxLength": 64},
            "ttlSeconds": {"type": "integer", "minimum": 1, "maximum": MAX_TOKEN_TTL},
        },
    },
    "UserToken": _obj(["token", "userId", "expiresAt"], token=_S, userId=_S, expiresAt=_T),
    "SeedRequest": {
        "type": "object",
        "properties": {"users": _I, "stock": _I, "couponQuantity": _I},
    },
    "SeedReport": _obj(
        ["users", "products", "couponQuantity", "seconds"],
        users=_I,
        products=_I,
        couponQuantity=_I,
        seconds={"type": "number"},
    ),
}

_STATUS_TEXT = {
    400: "Invalid input or a business rule refused the request",
    401: "Bearer token missing or not valid",
    403: "Wrong admin token, or another user's resource",
    404: "Not found",
    409: "Conflict (duplicate, the user's previous request still holds the lock, or a request"
    " with the same Idempotency-Key is in progress)",
    422: "The Idempotency-Key was first used with another request",
    503: "A dependency is unavailable; nothing was written",
}


def _body(name: str) -> Schema:
    if name.startswith("["):
        return {"type": "array", "items": _ref(name.strip("[]"))}
    return _ref(name)


_IDEMPOTENCY_KEY: Schema = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retries with the same key and body get the first answer and no second"
    " effect, for 24 hours (docs/api.md)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
_REPLAYED: Schema = {
    "Idempotent-Replayed": {
        "description": "true when this is the stored answer of an earlier request",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def _operation(route: Route, *, user_auth: bool) -> Schema:
    success: Schema = {
        "description": "Success",
        "content": {"application/json": {"schema": _body(route.response)}}
        if route.response
        else {"application/json": {}},
    }
    if route.idempotent:
        success["headers"] = _REPLAYED
    responses: Schema = {str(route.status): success}
    errors = set(route.errors)
    if route.user and user_auth:
        errors |= {401, 403}
    if route.idempotent:
        errors |= {409, 422}
    for status in sorted(errors):
        responses[str(status)] = {
            "description": _STATUS_TEXT[status],
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        }
    operation: Schema = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.tag}.{route.handler.__name__}",
        "parameters": [
            {"name": p.name, "in": p.where, "required": p.required, "schema": p.schema}
            for p in route.params
        ]
        + ([_IDEMPOTENCY_KEY] if route.idempotent else []),
        "responses": responses,
    }
    if route.request:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.request)}},
        }
    if route.admin:
        operation["security"] = [{"admin": []}]
    elif route.user and user_auth:
        operation["security"] = [{"user": []}]
    return operation


def build_document(routes: Iterable[Route], *, user_auth: bool = False) -> Schema:
    """The whole OpenAPI 3.1 document; `user_auth` when SHOP_AUTH=required."""
    paths: dict[str, Schema] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, user_auth=user_auth
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "shop", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "admin": {"type": "http", "scheme": "bearer"},
                "user": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a user token: POST /api/admin/tokens or"
                    " `python -m shop token USER_ID`",
                },
            },
        },
    }


async def serve(request: web.Request) -> web.Response:
    """The OpenAPI document, built once at start-up."""
    return json_response(request.app[OPENAPI])
