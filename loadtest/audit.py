"""Consistency audit, read straight from MariaDB after a run (or alone: `make loadtest-audit`).

Latency limits say the shop was fast; this says it was right. Over the seeded data set (users
`test-user-*` starting at the seed balance, products `test-product-*` starting at the seeded
stock) it checks:

- coupons: `issued_quantity` = user-coupon rows <= `total_quantity`, at most one per user;
- balances: every user's balance = initial + the sum of their balance history;
- stock: stock + units sold in paid orders = initial stock (and `sales_count` = units sold);
- money: charges - payments = the change of all balances (nothing created or lost in between);
- orders: every PAID order has exactly one payment, of its final amount, and its lines add up.

Each discrepancy names its rows. Exit code 1 when there is any.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pymysql

from shop.adapters.mysql.pool import parse_db_url
from shop.adapters.mysql.seed import SEED_BALANCE

SHOWN = 20  # rows named per kind; the count says how many more
SEED_STOCK = 1_000_000  # `python -m shop seed` default


@dataclass(frozen=True, slots=True)
class Discrepancy:
    kind: str
    row: str
    detail: str


@dataclass(frozen=True, slots=True)
class Scope:
    users: str = "test-user-%"
    products: str = "test-product-%"
    initial_balance: int = SEED_BALANCE
    initial_stock: int = SEED_STOCK


def _rows(cur: Any, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cur.execute(sql, args)
    return list(cur.fetchall())


def _coupons(cur: Any, scope: Scope) -> Iterator[Discrepancy]:
    for coupon_id, total, issued, rows in _rows(
        cur,
        "SELECT c.coupon_id, c.total_quantity, c.issued_quantity, COUNT(uc.user_coupon_id)"
        " FROM coupons c LEFT JOIN user_coupons uc ON uc.coupon_id = c.coupon_id"
        " GROUP BY c.coupon_id, c.total_quantity, c.issued_quantity",
    ):
        if issued != rows:
            yield Discrepancy(
                "coupon_count", coupon_id, f"issued_quantity {issued} but {rows} user-coupon rows"
            )
        if rows > total:
            yield Discrepancy("coupon_over_issued", coupon_id, f"{rows} issued of {total}")
    for coupon_id, user_id, n in _rows(
        cur,
        "SELECT coupon_id, user_id, COUNT(*) FROM user_coupons"
        " GROUP BY coupon_id, user_id HAVING COUNT(*) > 1",
    ):
        yield Discrepancy("coupon_duplicate", f"{coupon_id}/{user_id}", f"issued {n} times")


def _balances(cur: Any, scope: Scope) -> Iterator[Discrepancy]:
    for user_id, balance, history in _rows(
        cur,
        "SELECT u.user_id, u.balance, COALESCE(SUM(h.amount), 0) FROM users u"
        " LEFT JOIN balance_history h ON h.user_id = u.user_id WHERE u.user_id LIKE %s"
        " GROUP BY u.user_id, u.balance HAVING u.balance <> %s + COALESCE(SUM(h.amount), 0)",
        (scope.users, scope.initial_balance),
    ):
        yield Discrepancy(
            "balance",
            user_id,
            f"balance {balance} != initial {scope.initial_balance} + history {int(history)}",
        )


def _stock(cur: Any, scope: Scope) -> Iterator[Discrepancy]:
    for product_id, stock, sales_count, sold in _rows(
        cur,
        "SELECT p.product_id, p.stock, p.sales_count, COALESCE(SUM(s.quantity), 0) FROM products p"
        " LEFT JOIN (SELECT oi.product_id, oi.quantity FROM order_items oi"
        "   JOIN orders o ON o.order_id = oi.order_id AND o.status = 'PAID') s"
        "   ON s.product_id = p.product_id"
        " WHERE p.product_id LIKE %s GROUP BY p.product_id, p.stock, p.sales_count",
        (scope.products,),
    ):
        if stock + sold != scope.initial_stock:
            yield Discrepancy(
                "stock",
                product_id,
                f"stock {stock} + sold {int(sold)} != initial {scope.initial_stock}",
            )
        if sales_count != sold:
            yield Discrepancy(
                "sales_count", product_id, f"sales_count {sales_count} != sold {sold}"
            )


def _money(cur: Any, scope: Scope) -> Iterator[Discrepancy]:
    [(users, balances)] = _rows(
        cur,
        "SELECT COUNT(*), COALESCE(SUM(balance), 0) FROM users WHERE user_id LIKE %s",
        (scope.users,),
    )
    [(charges, refunds)] = _rows(
        cur,
        "SELECT COALESCE(SUM(CASE WHEN reason = 'CHARGE' THEN amount END), 0),"
        " COALESCE(SUM(CASE WHEN reason = 'REFUND' THEN amount END), 0)"
        " FROM balance_history WHERE user_id LIKE %s",
        (scope.users,),
    )
    [(paid,)] = _rows(
        cur,
        "SELECT COALESCE(SUM(amount), 0) FROM payments"
        " WHERE status = 'COMPLETED' AND user_id LIKE %s",
        (scope.users,),
    )
    expected = users * scope.initial_balance + charges + refunds - paid
    if balances != expected:
        yield Discrepancy(
            "money",
            f"{users} users",
            f"balances {int(balances)} != initial {users * scope.initial_balance}"
            f" + charges {int(charges)} + refunds {int(refunds)} - payments {int(paid)}"
            f" (off by {int(balances - expected)})",
        )


def _orders(cur: Any, scope: Scope) -> Iterator[Discrepancy]:
    for order_id, final, payments, paid in _rows(
        cur,
        "SELECT o.order_id, o.final_amount, COUNT(p.payment_id), COALESCE(SUM(p.amount), 0)"
        " FROM orders o LEFT JOIN payments p ON p.order_id = o.order_id"
        " WHERE o.status = 'PAID' AND o.user_id LIKE %s"
        " GROUP BY o.order_id, o.final_amount"
        " HAVING COUNT(p.payment_id) <> 1 OR COALESCE(SUM(p.amount), 0) <> o.final_amount",
        (scope.users,),
    ):
        if payments != 1:
            yield Discrepancy("order_payment", f"order {order_id}", f"{payments} payments")
        else:
            yield Discrepancy(
                "order_payment", f"order {order_id}", f"paid {int(paid)} != final {final}"
            )
    for order_id, total, discount, final, lines in _rows(
        cur,
        "SELECT o.order_id, o.total_amount, o.discount_amount, o.final_amount,"
        " COALESCE(SUM(oi.price * oi.quantity), 0)"
        " FROM orders o LEFT JOIN order_items oi ON oi.order_id = o.order_id"
        " WHERE o.status = 'PAID' AND o.user_id LIKE %s"
        " GROUP BY o.order_id, o.total_amount, o.discount_amount, o.final_amount"
        " HAVING o.total_amount <> COALESCE(SUM(oi.price * oi.quantity), 0)"
        "   OR o.final_amount <> o.total_amount - o.discount_amount",
        (scope.users,),
    ):
        yield Discrepancy(
            "order_lines",
            f"order {order_id}",
            f"lines {int(lines)}, total {total}, discount {discount}, final {final}",
        )


CHECKS = (_coupons, _balances, _stock, _money, _orders)


def audit(db_url: str, scope: Scope | None = None) -> list[Discrepancy]:
    """Every discrepancy found, read in one consistent snapshot."""
    scope = scope or Scope()
    target = parse_db_url(db_url)
    connection = pymysql.connect(
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password,
        database=target.database,
        charset="utf8mb4",
    )
    try:
        with connection.cursor() as cur:
            # Grouping 100,000 users fits in memory: keep MariaDB's temporary tables off disk
            # (a shared machine's /tmp is not always left alone).
            cur.execute("SET SESSION max_heap_table_size = 268435456, tmp_table_size = 268435456")
            # One snapshot for all checks: a run still settling cannot look inconsistent.
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            found = [d for check in CHECKS for d in check(cur, scope)]
            cur.execute("COMMIT")
        return found
    finally:
        connection.close()


def describe(found: list[Discrepancy]) -> str:
    if not found:
        return "consistency audit: clean (coupons, balances, stock, money, paid orders)"
    lines = [f"consistency audit: {len(found)} discrepancies"]
    by_kind: dict[str, list[Discrepancy]] = {}
    for d in found:
        by_kind.setdefault(d.kind, []).append(d)
    for kind, items in by_kind.items():
        lines.append(f"  {kind}: {len(items)}")
        lines += [f"    {d.row}: {d.detail}" for d in items[:SHOWN]]
        if len(items) > SHOWN:
            lines.append(f"    ... and {len(items) - SHOWN} more")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest.audit", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--db-url", default=os.environ.get("SHOP_DB_URL", "mysql://root:@127.0.0.1:3306/shop")
    )
    parser.add_argument("--initial-stock", type=int, default=SEED_STOCK)
    parser.add_argument("--initial-balance", type=int, default=SEED_BALANCE)
    args = parser.parse_args(argv)
    found = audit(
        args.db_url,
        Scope(initial_stock=args.initial_stock, initial_balance=args.initial_balance),
    )
    print(describe(found))
    return 1 if found else 0
