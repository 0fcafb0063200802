"""What the contract (docs/api.md) promises for each request the load test sends.

Every answer is judged here, once: a success must carry the fields the contract names (with
the right types and the arithmetic that ties them together), a business rejection must be one
the contract allows for that request and carry a problem+json body, and anything else is a
failure. The original's load script checked a field the API never returned and reported 26.8 %
"errors" for a day; a field checked here is a field the contract names.

No locust import: the tests and the gate use this module without gevent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# Request names are the shop's route templates (docs/operations.md): load and service panels
# join on the same word.
ISSUE = "/api/coupons/{couponId}/issue"
CHARGE = "/api/users/{userId}/balance/charge"
BALANCE = "/api/users/{userId}/balance"
CART_ADD = "/api/cart/items"
CART = "/api/cart"
ORDER = "/api/orders"
PRODUCTS = "/api/products"
PRODUCT = "/api/products/{productId}"
POPULAR = "/api/products/popular"

# Business rejections the contract allows per request: counted by class, never as failures.
REJECTIONS: dict[str, frozenset[str]] = {
    ISSUE: frozenset({"C001", "C006", "IDEMPOTENCY_IN_PROGRESS"}),
    CHARGE: frozenset({"B002", "LOCK001", "IDEMPOTENCY_IN_PROGRESS"}),
    CART_ADD: frozenset({"O001", "LOCK001"}),
    ORDER: frozenset(
        {"P002", "PAY001", "O001", "C003", "C004", "C007", "LOCK001", "IDEMPOTENCY_IN_PROGRESS"}
    ),
}
PROBLEM_FIELDS = ("type", "title", "status", "detail", "code", "message", "timestamp")

Kind = Literal["ok", "rejected", "failed"]


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: Kind
    code: str = ""  # the rejection class, when rejected
    reason: str = ""  # why it failed, when failed


OK = Verdict("ok")


def _fail(reason: str) -> Verdict:
    return Verdict("failed", reason=reason)


Json = Any
Check = Callable[[Json, Mapping[str, Any]], str | None]


Spec = Mapping[str, type | tuple[type, ...]]


def _fields(body: Json, spec: Spec) -> str | None:
    if not isinstance(body, dict):
        return f"expected an object, got {type(body).__name__}"
    for name, kind in spec.items():
        if name not in body:
            return f"missing field {name!r}"
        value = body[name]
        # bool is an int in Python; the contract never means a boolean where it says a number.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            return f"field {name!r} is a boolean"
        if not isinstance(value, kind):
            return f"field {name!r} has type {type(value).__name__}"
    return None


OPT_STR = (str, type(None))
PRODUCT_FIELDS = {"productId": str, "name": str, "price": int, "stock": int, "category": str}
LINE_FIELDS = {"productId": str, "productName": str, "price": int, "quantity": int, "subtotal": int}


def _charge(body: Json, sent: Mapping[str, Any]) -> str | None:
    spec: Spec = {
        "userId": str,
        "previousBalance": int,
        "chargedAmount": int,
        "currentBalance": int,
        "chargedAt": str,
    }
    if problem := _fields(body, spec):
        return problem
    if body["chargedAmount"] != sent.get("amount", body["chargedAmount"]):
        return "chargedAmount differs from the amount sent"
    if body["currentBalance"] != body["previousBalance"] + body["chargedAmount"]:
        return "currentBalance != previousBalance + chargedAmount"
    return None


def _issue(body: Json, sent: Mapping[str, Any]) -> str | None:
    spec: Spec = {
        "userCouponId": str,
        "couponId": str,
        "userId": str,
        "issuedAt": str,
        "expiresAt": str,
        "remainingQuantity": int,
    }
    if problem := _fields(body, spec):
        return problem
    if "userId" in sent and body["userId"] != sent["userId"]:
        return "issued to another user"
    if body["remainingQuantity"] < 0:
        return "remainingQuantity is negative"
    return None


def _balance(body: Json, sent: Mapping[str, Any]) -> str | None:
    return _fields(body, {"userId": str, "balance": int})


def _cart_line(body: Json, sent: Mapping[str, Any]) -> str | None:
    if problem := _fields(body, {"cartItemId": str, **LINE_FIELDS}):
        return problem
    if body["subtotal"] != body["price"] * body["quantity"]:
        return "subtotal != price * quantity"
    return None


def _cart(body: Json, sent: Mapping[str, Any]) -> str | None:
    spec = {"cartId": str, "userId": str, "items": list, "totalAmount": int}
    if problem := _fields(body, spec):
        return problem
    for item in body["items"]:
        if problem := _cart_line(item, {}):
            return f"items: {problem}"
    if body["totalAmount"] != sum(i["subtotal"] for i in body["items"]):
        return "totalAmount != sum of subtotals"
    return None


def _order(body: Json, sent: Mapping[str, Any]) -> str | None:
    spec: Spec = {
        "orderId": str,
        "userId": str,
        "status": str,
        "items": list,
        "totalAmount": int,
        "discountAmount": int,
        "finalAmount": int,
        "couponId": OPT_STR,
        "createdAt": str,
    }
    if problem := _fields(body, spec):
        return problem
    if body["status"] != "PAID":
        return f"status {body['status']!r}, expected 'PAID'"
    if not body["items"]:
        return "an order without items"
    for line in body["items"]:
        if problem := _fields(line, LINE_FIELDS):
            return f"items: {problem}"
    if body["totalAmount"] != sum(line["subtotal"] for line in body["items"]):
        return "totalAmount != sum of line subtotals"
    if body["finalAmount"] != body["totalAmount"] - body["discountAmount"]:
        return "finalAmount != totalAmount - discountAmount"
    return None


def _product(body: Json, sent: Mapping[str, Any]) -> str | None:
    return _fields(body, PRODUCT_FIELDS)


def _products(body: Json, sent: Mapping[str, Any]) -> str | None:
    if not isinstance(body, list):
        return "expected a list"
    for item in body:
        if problem := _fields(item, PRODUCT_FIELDS):
            return problem
    return None


def _popular(body: Json, sent: Mapping[str, Any]) -> str | None:
    if not isinstance(body, list):
        return "expected a list"
    for item in body:
        if problem := _fields(item, {**PRODUCT_FIELDS, "salesCount": int}):
            return problem
    return None


SUCCESS: dict[str, Check] = {
    ISSUE: _issue,
    CHARGE: _charge,
    BALANCE: _balance,
    CART_ADD: _cart_line,
    CART: _cart,
    ORDER: _order,
    PRODUCTS: _products,
    PRODUCT: _product,
    POPULAR: _popular,
}


def judge(name: str, status: int, body: Json, sent: Mapping[str, Any] | None = None) -> Verdict:
    """Classify one answer to request `name` (status 0 = no answer: a timeout or reset)."""
    if status == 0:
        return _fail("no answer (timeout or connection error)")
    if status >= 500:
        code = body.get("code", "") if isinstance(body, dict) else ""
        return _fail(f"HTTP {status} {code}".strip())
    if status == 200:
        problem = SUCCESS[name](body, sent or {})
        return _fail(f"contract: {problem}") if problem else OK
    if 400 <= status < 500:
        if problem := _fields(body, dict.fromkeys(PROBLEM_FIELDS, (str, int))):
            return _fail(f"HTTP {status} without a problem body: {problem}")
        code = str(body["code"])
        if code in REJECTIONS.get(name, frozenset()):
            return Verdict("rejected", code=code)
        return _fail(f"HTTP {status} {code}: {body.get('message', '')}")
    return _fail(f"unexpected HTTP {status}")
