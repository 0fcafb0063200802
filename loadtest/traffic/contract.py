"""What the contract promises for each request the load test sends.

Every answer is judged here, once. Its shape (fields, types, required, nullable, enums) is read
from the OpenAPI document the shop serves (`GET /api/openapi.json`, loaded once per process by
`fetch` or `load`), so a field is checked if and only if the API declares it; what a schema
cannot say is checked here: the arithmetic that ties the fields together (`currentBalance ==
previousBalance + chargedAmount`, subtotals, totals), that a placed order is PAID, and which
business rejections a request may meet (counted by class, never as failures). Anything else is
a failure. The original's load script checked a field the API never returned and reported
26.8 % "errors" for a day.

No locust import: the tests and the gate use this module without gevent.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

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
METHODS = {
    ISSUE: "post",
    CHARGE: "post",
    BALANCE: "get",
    CART_ADD: "post",
    CART: "get",
    ORDER: "post",
    PRODUCTS: "get",
    PRODUCT: "get",
    POPULAR: "get",
}

# Business rejections the contract allows per request: counted by class, never as failures.
REJECTIONS: dict[str, frozenset[str]] = {
    ISSUE: frozenset({"C001", "C006", "IDEMPOTENCY_IN_PROGRESS"}),
    CHARGE: frozenset({"B002", "LOCK001", "IDEMPOTENCY_IN_PROGRESS"}),
    CART_ADD: frozenset({"O001", "LOCK001"}),
    ORDER: frozenset(
        {"P002", "PAY001", "O001", "C003", "C004", "C007", "LOCK001", "IDEMPOTENCY_IN_PROGRESS"}
    ),
}

Kind = Literal["ok", "rejected", "shed", "failed"]
# The admission gate's refusal: its own class, neither a business rejection nor a failure of
# the contract (it counts against availability all the same).
SHED = "OVERLOADED"


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
DOCUMENT = "urn:shop:openapi"


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class Shapes:
    """A validator per request and answer status, from the served OpenAPI document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        resource = Resource.from_contents(dict(document), default_specification=DRAFT202012)
        registry: Registry[Any] = Registry().with_resource(DOCUMENT, resource)
        self.validators: dict[tuple[str, int], Draft202012Validator] = {}
        for name, method in METHODS.items():
            try:
                responses = document["paths"][name][method]["responses"]
            except KeyError:
                raise ValueError(f"the OpenAPI document has no {method.upper()} {name}") from None
            for status, answer in responses.items():
                for media in answer.get("content", {}):
                    where = _pointer("paths", name, method, "responses", status, "content", media)
                    schema = {"$ref": f"{DOCUMENT}#/{where}/schema"}
                    self.validators[name, int(status)] = Draft202012Validator(
                        schema, registry=registry
                    )

    def problem(self, name: str, status: int, body: Json) -> str | None:
        """Why `body` is not what the document declares for `name` at `status` (None: it is)."""
        validator = self.validators.get((name, status))
        if validator is None:
            return f"HTTP {status} is not an answer the document declares"
        error = best_match(validator.iter_errors(body))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path)
        return f"{where or 'body'}: {error.message}"


_loaded: list[Shapes] = []


def load(document: Mapping[str, Any]) -> None:
    """Judge answers by this OpenAPI document from now on (in this process)."""
    _loaded[:] = [Shapes(document)]


def served(url: str, timeout: float = 30) -> dict[str, Any]:
    """The OpenAPI document the shop at `url` serves."""
    with urllib.request.urlopen(f"{url}/api/openapi.json", timeout=timeout) as response:
        document: dict[str, Any] = json.loads(response.read())
        return document


def fetch(url: str) -> None:
    """Judge answers by the document the shop at `url` serves from now on."""
    load(served(url))


def _shapes() -> Shapes:
    if not _loaded:
        raise RuntimeError("no OpenAPI document loaded: contract.fetch(shop URL) first")
    return _loaded[0]


# -- what a schema cannot say -------------------------------------------------------------------


def _charge(body: Json, sent: Mapping[str, Any]) -> str | None:
    if body["chargedAmount"] != sent.get("amount", body["chargedAmount"]):
        return "chargedAmount differs from the amount sent"
    if body["currentBalance"] != body["previousBalance"] + body["chargedAmount"]:
        return "currentBalance != previousBalance + chargedAmount"
    return None


def _issue(body: Json, sent: Mapping[str, Any]) -> str | None:
    if "userId" in sent and body["userId"] != sent["userId"]:
        return "issued to another user"
    if body["remainingQuantity"] < 0:
        return "remainingQuantity is negative"
    return None


def _cart_line(body: Json, sent: Mapping[str, Any]) -> str | None:
    if body["subtotal"] != body["price"] * body["quantity"]:
        return "subtotal != price * quantity"
    return None


def _cart(body: Json, sent: Mapping[str, Any]) -> str | None:
    for item in body["items"]:
        if problem := _cart_line(item, {}):
            return f"items: {problem}"
    if body["totalAmount"] != sum(i["subtotal"] for i in body["items"]):
        return "totalAmount != sum of subtotals"
    return None


def _order(body: Json, sent: Mapping[str, Any]) -> str | None:
    if body["status"] != "PAID":
        return f"status {body['status']!r}, expected 'PAID'"
    if not body["items"]:
        return "an order without items"
    for line in body["items"]:
        if problem := _cart_line(line, {}):
            return f"items: {problem}"
    if body["totalAmount"] != sum(line["subtotal"] for line in body["items"]):
        return "totalAmount != sum of line subtotals"
    if body["finalAmount"] != body["totalAmount"] - body["discountAmount"]:
        return "finalAmount != totalAmount - discountAmount"
    return None


ARITHMETIC: dict[str, Check] = {
    ISSUE: _issue,
    CHARGE: _charge,
    CART_ADD: _cart_line,
    CART: _cart,
    ORDER: _order,
}


def judge(name: str, status: int, body: Json, sent: Mapping[str, Any] | None = None) -> Verdict:
    """Classify one answer to request `name` (status 0 = no answer: a timeout or reset)."""
    if status == 0:
        return _fail("no answer (timeout or connection error)")
    if status >= 500:
        code = body.get("code", "") if isinstance(body, dict) else ""
        if status == 503 and code == SHED:
            return Verdict("shed", code=code)
        return _fail(f"HTTP {status} {code}".strip())
    shape = _shapes().problem(name, status, body)
    if status == 200:
        check = ARITHMETIC.get(name)
        problem = shape or (check(body, sent or {}) if check else None)
        return _fail(f"contract: {problem}") if problem else OK
    if 400 <= status < 500:
        if shape:
            return _fail(f"HTTP {status} without a problem body: {shape}")
        code = str(body["code"])
        if code in REJECTIONS.get(name, frozenset()):
            return Verdict("rejected", code=code)
        return _fail(f"HTTP {status} {code}: {body.get('message', '')}")
    return _fail(f"unexpected HTTP {status}")
