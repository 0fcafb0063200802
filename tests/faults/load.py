"""Concurrent load for the drills: charges, coupon issues and orders, every answer recorded.

Each request's fate is kept client-side (status, error code, Retry-After, what a 2xx
acknowledged), so a drill can check afterwards that every acknowledged write is in the
database and that the refused ones wrote nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# Operations that take a per-user lock (and so need Redis with the Redis lock backend).
LOCKED = ("charge", "order")


@dataclass
class Outcome:
    op: str
    user: str
    started: float
    ended: float
    status: int | None  # None: no answer (connection refused or dropped)
    code: str | None = None
    retry_after: bool = False
    amount: int = 0  # a charge's amount (unique per request, to find it in the history)
    order_id: int | None = None


@dataclass
class Load:
    """`workers` concurrent clients against `urls`, each looping over random operations."""

    urls: Sequence[str]
    users: Sequence[str]
    coupon: str
    product: str
    workers: int = 12
    outcomes: list[Outcome] = field(default_factory=list)
    _amounts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def run(self, stop: asyncio.Event) -> None:
        """Send requests until `stop` is set, then wait for the ones in flight."""
        timeout = aiohttp.ClientTimeout(total=60)
        connector = aiohttp.TCPConnector(limit=self.workers * 2)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
            await asyncio.gather(*(self._worker(http, n, stop) for n in range(self.workers)))

    async def _worker(self, http: aiohttp.ClientSession, n: int, stop: asyncio.Event) -> None:
        rng = random.Random(n)
        while not stop.is_set():
            url = self.urls[rng.randrange(len(self.urls))]
            user = self.users[rng.randrange(len(self.users))]
            op = rng.choice(("charge", "charge", "coupon", "order"))
            if op == "order":
                added = await self._send(
                    http, "cart", user, url, "/api/cart/items",
                    {"userId": user, "productId": self.product, "quantity": 1},
                )  # fmt: skip
                if added.status is None or added.status >= 400:
                    await asyncio.sleep(0.05)  # the service is down or refusing: don't spin
                    continue
                await self._send(http, op, user, url, "/api/orders", {"userId": user})
            elif op == "charge":
                amount = next(self._amounts)
                path = f"/api/users/{user}/balance/charge"
                await self._send(http, op, user, url, path, {"amount": amount}, amount=amount)
            else:
                path = f"/api/coupons/{self.coupon}/issue"
                await self._send(http, op, user, url, path, {"userId": user})

    async def _send(
        self,
        http: aiohttp.ClientSession,
        op: str,
        user: str,
        url: str,
        path: str,
        body: dict[str, Any],
        *,
        amount: int = 0,
    ) -> Outcome:
        started = time.monotonic()
        outcome = Outcome(op, user, started, started, None, amount=amount)
        try:
            async with http.post(url + path, json=body) as response:
                outcome.status = response.status
                outcome.retry_after = "Retry-After" in response.headers
                answer = await response.json(content_type=None)
                if response.status >= 400:
                    outcome.code = answer.get("code")
                elif op == "order":
                    outcome.order_id = int(answer["orderId"])
        except (aiohttp.ClientError, TimeoutError, ValueError):
            outcome.status = None
        outcome.ended = time.monotonic()
        self.outcomes.append(outcome)
        if outcome.status is None:
            await asyncio.sleep(0.05)  # refused connections answer at once: don't spin
        return outcome

    # What a drill reports.
    def by_status(self, since: float = 0.0, until: float = float("inf")) -> dict[str, int]:
        """Answers by status (and code for errors) among requests started in [since, until)."""
        counts: Counter[str] = Counter()
        for o in self.outcomes:
            if since <= o.started < until:
                key = "no answer" if o.status is None else str(o.status)
                if o.code and o.status is not None and o.status >= 500:
                    key += f" {o.code}"
                counts[key] += 1
        return dict(sorted(counts.items()))

    def first_success_after(self, moment: float, ops: Sequence[str] = LOCKED) -> float | None:
        """Seconds from `moment` to the end of the first 2xx of `ops` sent after it."""
        ends = [
            o.ended
            for o in self.outcomes
            if o.op in ops and o.started >= moment and o.status is not None and o.status < 300
        ]
        return min(ends) - moment if ends else None

    def server_errors(self) -> list[Outcome]:
        """Every answer ≥ 500 other than 503: bugs, whatever the fault."""
        return [
            o for o in self.outcomes if o.status is not None and o.status >= 500 and o.status != 503
        ]
