"""Locust users, one per API the original load-tested, plus browsing.

Every answer goes through `contract.judge`: a success must carry the contract's fields, a
business rejection (sold out, duplicate, insufficient stock or balance, lock busy, idempotency
in progress) is marked a success in locust's stats and counted by class in `rejections`, and
anything else is a failure with the reason as its message.
"""

from __future__ import annotations

import functools
import itertools
import random
import uuid
from typing import Any

import gevent
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

from loadtest.traffic import contract, rejections, samples
from loadtest.traffic.contract import Verdict
from shop.auth.tokens import bearer_headers

# The longest a closed-model user honours a Retry-After (a bounded back-off).
MAX_BACKOFF = 5.0
# Replicas are spread over users round-robin: one connection pool per user, as k6 VUs had.
_replica_turn = itertools.count()


@functools.cache
def _token(user_id: str) -> dict[str, str]:
    """A bearer token per user (SHOP_AUTH_SECRET), minted once: what an authenticating shop
    (SHOP_AUTH=required) wants, and ignored by one that runs with SHOP_AUTH=off."""
    return bearer_headers(user_id, ttl=24 * 3600)


class ShopUser(FastHttpUser):
    """Base: picks a replica, knows the data set, judges every answer."""

    abstract = True
    # Long enough for a lock wait (5 s) plus a slow database; a timeout is a failure.
    network_timeout = 30.0
    connection_timeout = 5.0
    # A closed-model user waits out an answer's Retry-After before its next request, as a
    # well-behaved client does; open-model arrivals come on schedule whatever the answers.
    backs_off = True

    def __init__(self, environment: Any) -> None:
        options = environment.parsed_options
        hosts = [h for h in (getattr(options, "host", None) or self.host or "").split(",") if h]
        if hosts:
            self.host = hosts[next(_replica_turn) % len(hosts)]
        super().__init__(environment)
        self.users = int(getattr(options, "shop_users", 100_000) or 100_000)
        self.coupon_id = str(getattr(options, "coupon_id", "") or "test-coupon-1")
        self.trace_sample = float(getattr(options, "trace_sample", 0.0) or 0.0)
        self.last: Verdict = contract.OK  # the verdict of the latest call
        self.last_trace: dict[str, Any] = {}  # and the trace context it was sent with

    def any_user(self) -> str:
        return f"test-user-{random.randint(1, self.users)}"

    def call(
        self,
        method: str,
        path: str,
        name: str,
        payload: dict[str, Any] | None = None,
        *,
        user: str | None = None,
        idempotent: bool = False,
    ) -> Any:
        """Send one request as `user` and judge its answer; returns the body on a success.

        `idempotent` sends a fresh Idempotency-Key, as a careful client does for a payment.
        """
        headers, trace_id, sampled = samples.trace_headers(self.trace_sample)
        if user:
            headers.update(_token(user))
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        kwargs: dict[str, Any] = {
            "name": name,
            "catch_response": True,
            "headers": headers,
            "context": {"trace_id": trace_id, "sampled": sampled},
        }
        self.last_trace = kwargs["context"]
        if payload is not None:
            kwargs["json"] = payload
        with self.client.request(method, path, **kwargs) as response:
            status = response.status_code or 0
            try:
                body = response.json() if response.text else None
            except ValueError:
                body = None
            verdict: Verdict = contract.judge(name, status, body, payload)
            self.last = verdict
            if verdict.kind == "shed":
                response.failure(f"shed: HTTP 503 {verdict.code}")
                rejections.count(method, name, verdict.code)
            elif verdict.kind == "failed":
                response.failure(verdict.reason)
            else:
                response.success()
                if verdict.kind == "rejected":
                    rejections.count(method, name, verdict.code)
            retry_after = response.headers.get("Retry-After") if response.headers else None
        if retry_after and self.backs_off:
            gevent.sleep(min(MAX_BACKOFF, float(retry_after)))
        return body if verdict.kind == "ok" else None

    # The writes both the closed-model users here and the open-model ones (open_users.py) send.
    def issue_coupon(self, user: str) -> Any:
        """Ask for the scenario's coupon for `user`."""
        path = f"/api/coupons/{self.coupon_id}/issue"
        return self.call("POST", path, contract.ISSUE, {"userId": user}, user=user)

    def charge_balance(self, user: str) -> Any:
        """Charge `user` a random amount, with an Idempotency-Key as a payment client would."""
        amount = random.randint(1_000, 10_000)
        path = f"/api/users/{user}/balance/charge"
        return self.call(
            "POST", path, contract.CHARGE, {"amount": amount}, user=user, idempotent=True
        )

    def add_to_cart(self, user: str) -> Any:
        """Put one of a random product of the data set in `user`'s cart."""
        product = f"test-product-{random.randint(1, 10)}"
        item = {"userId": user, "productId": product, "quantity": 1}
        return self.call("POST", "/api/cart/items", contract.CART_ADD, item, user=user)


class CouponUser(ShopUser):
    """First-come coupon issue: many users racing for one coupon."""

    wait_time = between(0.2, 0.6)

    @task
    def issue(self) -> None:
        self.issue_coupon(self.any_user())


class ChargeUser(ShopUser):
    """Balance charges spread over every user."""

    wait_time = between(0.1, 0.3)

    def target(self) -> str:
        return self.any_user()

    @task
    def charge(self) -> None:
        self.charge_balance(self.target())


class HotChargeUser(ChargeUser):
    """Charges concentrated on ten users: the per-user lock under contention."""

    def target(self) -> str:
        return f"test-user-{random.randint(1, min(10, self.users))}"


class OrderUser(ShopUser):
    """Add to cart, then order (one in ten with a coupon); no think time, as in the original."""

    wait_time = between(0, 0)

    @task
    def order(self) -> None:
        user = self.any_user()
        if self.add_to_cart(user) is None:
            return
        order: dict[str, Any] = {"userId": user}
        if random.random() < 0.1:
            issued = self.issue_coupon(user)
            # Pay with it only when the user holds it (issued now, or before: C006).
            if issued is not None or self.last.code == "C006":
                order["couponId"] = self.coupon_id
        self.call("POST", "/api/orders", contract.ORDER, order, user=user, idempotent=True)


class BrowseUser(ShopUser):
    """Reads: catalogue, a product, best sellers, one's balance and cart."""

    wait_time = between(0.5, 1.5)

    @task(4)
    def products(self) -> None:
        sort = random.choice(("price", "popularity", "newest"))
        self.call("GET", f"/api/products?sort={sort}", contract.PRODUCTS)

    @task(3)
    def product(self) -> None:
        product = f"test-product-{random.randint(1, 10)}"
        self.call("GET", f"/api/products/{product}", contract.PRODUCT)

    @task(1)
    def popular(self) -> None:
        self.call("GET", "/api/products/popular?days=3&limit=5", contract.POPULAR)

    @task(2)
    def balance(self) -> None:
        user = self.any_user()
        self.call("GET", f"/api/users/{user}/balance", contract.BALANCE, user=user)

    @task(2)
    def cart(self) -> None:
        user = self.any_user()
        self.call("GET", f"/api/cart?userId={user}", contract.CART, user=user)
