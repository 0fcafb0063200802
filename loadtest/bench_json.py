"""JSON encode/decode cost of the shop's own payloads: orjson vs the standard library.

Usage: `python loadtest/bench_json.py` (prints a Markdown table).
"""

from __future__ import annotations

import json
import statistics
import sys
import timeit

import orjson

ORDER = {
    "orderId": "123456",
    "userId": "test-user-42",
    "status": "PAID",
    "items": [
        {
            "productId": f"test-product-{n}",
            "productName": f"Test product {n}",
            "price": 10_000,
            "quantity": 2,
            "subtotal": 20_000,
        }
        for n in range(1, 6)
    ],
    "totalAmount": 100_000,
    "discountAmount": 1_000,
    "finalAmount": 99_000,
    "couponId": "test-coupon-1",
    "createdAt": "2026-11-24T10:00:00.000000+00:00",
}
PRODUCTS = [
    {
        "productId": f"test-product-{n}",
        "name": f"Test product {n}",
        "price": 10_000,
        "stock": 1_000_000,
        "category": "BOOKS",
    }
    for n in range(1, 11)
]
REQUEST = b'{"userId": "test-user-42", "couponId": "test-coupon-1"}'


def _best(stmt: object, number: int = 20_000) -> float:
    runs = timeit.repeat(stmt, number=number, repeat=7)  # type: ignore[arg-type]  # timeit takes a callable too
    return statistics.median(runs) / number * 1e6


def main() -> int:
    rows = [
        ("encode order", lambda: json.dumps(ORDER).encode(), lambda: orjson.dumps(ORDER)),
        (
            "encode product list",
            lambda: json.dumps(PRODUCTS).encode(),
            lambda: orjson.dumps(PRODUCTS),
        ),
        ("decode order request", lambda: json.loads(REQUEST), lambda: orjson.loads(REQUEST)),
    ]
    print("| payload | json µs | orjson µs | ratio |")
    print("|---|---|---|---|")
    for name, std, fast in rows:
        a, b = _best(std), _best(fast)
        print(f"| {name} | {a:.2f} | {b:.2f} | {a / b:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
