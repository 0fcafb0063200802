"""The consistency audit: what must hold in MariaDB after any load, fault, crash or game day.

Latency limits say the shop was fast; this says it was right. It is read from the database
alone (never from what the service answered), in one consistent snapshot, over a scope: a seeded
prefix (`test-user-%` and `test-product-%`, starting at the seed's balance and stock: the load
tests, game days and `make loadtest-audit`), or explicit users and products with their initial
values (`Scope.explicit`: the fault drills' private data sets). It checks:

- coupons: `issued_quantity` = user-coupon rows <= `total_quantity`, at most one per user;
- balances: every user's balance = initial + the sum of their history, and each history row
  chains on the one before (previous = the last current, current = previous + amount);
- stock: stock + units sold in paid orders = initial stock, and `sales_count` = units sold;
- money: balances = initial + charges + refunds - completed payments, and the history's
  payments are the payments table's;
- orders: every PAID order has exactly one payment, of its final amount, and lines that add up
  to its total (final = total - discount); no payment or used coupon without its order.

Each discrepancy names its rows. `python -m loadtest audit` exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pymysql

from loadtest.harness.database import connect
from shop.adapters.mysql.seed import SEED_BALANCE

SHOWN = 20  # rows named per kind; the count says how many more
SEED_STOCK = 1_000_000  # `python -m shop seed` default
Chosen = str | Sequence[str]  # a LIKE pattern (a seeded prefix) or the ids themselves


@dataclass(frozen=True, slots=True)
class Discrepancy:
    kind: str
    row: str
    detail: str


@dataclass(frozen=True)
class Scope:
    """Which rows the audit judges, and what they started at (one value for all, or each's)."""

    users: Chosen = "test-user-%"
    products: Chosen = "test-product-%"
    initial_balance: int | Mapping[str, int] = SEED_BALANCE
    initial_stock: int | Mapping[str, int] = SEED_STOCK
    coupons: Chosen = "%"

    @classmethod
    def explicit(
        cls, balances: Mapping[str, int], stock: Mapping[str, int], coupons: Sequence[str] = ()
    ) -> Scope:
        """These users and products, starting at these values, and these coupons."""
        return cls(list(balances), list(stock), dict(balances), dict(stock), list(coupons))

    def balance(self, user: str) -> int:
        initial = self.initial_balance
        return initial if isinstance(initial, int) else initial[user]

    def stock(self, product: str) -> int:
        initial = self.initial_stock
        return initial if isinstance(initial, int) else initial[product]


@dataclass
class Report:
    discrepancies: list[Discrepancy] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def summary(self) -> str:
        """One line for a drill's or a run's record."""
        verdict = "clean" if self.ok else f"{len(self.discrepancies)} discrepancies"
        return f"{verdict}: " + ", ".join(f"{n} {what}" for what, n in self.counts.items())

    def describe(self) -> str:
        if self.ok:
            return f"consistency audit: {self.summary()}"
        lines = [f"consistency audit: {self.summary()}"]
        by_kind: dict[str, list[Discrepancy]] = {}
        for d in self.discrepancies:
            by_kind.setdefault(d.kind, []).append(d)
        for kind, items in by_kind.items():
            lines.append(f"  {kind}: {len(items)}")
            lines += [f"    {d.row}: {d.detail}" for d in items[:SHOWN]]
            if len(items) > SHOWN:
                lines.append(f"    ... and {len(items) - SHOWN} more")
        return "\n".join(lines)


def _within(column: str, chosen: Chosen) -> tuple[str, list[Any]]:
    """A condition on `column` selecting the scope's rows, and its parameters."""
    if isinstance(chosen, str):
        return f"{column} LIKE %s", [chosen]
    if not chosen:
        return "FALSE", []
    return f"{column} IN ({', '.join(['%s'] * len(chosen))})", list(chosen)


class _Reader:
    def __init__(self, cur: Any, scope: Scope, counts: dict[str, int]) -> None:
        self.cur, self.scope, self.counts = cur, scope, counts

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        self.cur.execute(sql, params)
        return list(self.cur.fetchall())

    def coupons(self) -> Iterator[Discrepancy]:
        where, params = _within("c.coupon_id", self.scope.coupons)
        issued_rows = 0
        for coupon_id, total, issued, rows in self.rows(
            "SELECT c.coupon_id, c.total_quantity, c.issued_quantity, COUNT(uc.user_coupon_id)"
            " FROM coupons c LEFT JOIN user_coupons uc ON uc.coupon_id = c.coupon_id"
            f" WHERE {where} GROUP BY c.coupon_id, c.total_quantity, c.issued_quantity",
            *params,
        ):
            issued_rows += rows
            if issued != rows:
                yield Discrepancy(
                    "coupon_count",
                    coupon_id,
                    f"issued_quantity {issued} but {rows} user-coupon rows",
                )
            if rows > total:
                yield Discrepancy("coupon_over_issued", coupon_id, f"{rows} issued of {total}")
        self.counts["coupons issued"] = issued_rows
        where, params = _within("coupon_id", self.scope.coupons)
        for coupon_id, user_id, n in self.rows(
            "SELECT coupon_id, user_id, COUNT(*) FROM user_coupons"
            f" WHERE {where} GROUP BY coupon_id, user_id HAVING COUNT(*) > 1",
            *params,
        ):
            yield Discrepancy("coupon_duplicate", f"{coupon_id}/{user_id}", f"issued {n} times")

    def balances(self) -> Iterator[Discrepancy]:
        where, params = _within("u.user_id", self.scope.users)
        for user_id, balance, history in self.rows(
            "SELECT u.user_id, u.balance, COALESCE(SUM(h.amount), 0) FROM users u"
            f" LEFT JOIN balance_history h ON h.user_id = u.user_id WHERE {where}"
            " GROUP BY u.user_id, u.balance",
            *params,
        ):
            initial = self.scope.balance(user_id)
            if balance != initial + history:
                yield Discrepancy(
                    "balance",
                    user_id,
                    f"balance {balance} != initial {initial} + history {int(history)}",
                )
        # Each row against the one before it (the first against the initial balance); only
        # rows that break the chain, and every user's first, come back.
        where, params = _within("user_id", self.scope.users)
        for user_id, row_id, amount, previous, current, before in self.rows(
            "SELECT * FROM (SELECT user_id, id, amount, previous_balance, current_balance,"
            " LAG(current_balance) OVER (PARTITION BY user_id ORDER BY id) AS before_row"
            f" FROM balance_history WHERE {where}) h"
            " WHERE before_row IS NULL OR previous_balance <> before_row"
            " OR current_balance <> previous_balance + amount",
            *params,
        ):
            expected = self.scope.balance(user_id) if before is None else before
            if previous != expected or current != previous + amount:
                yield Discrepancy(
                    "history_chain",
                    f"{user_id} #{row_id}",
                    f"{previous} -> {current} by {amount}, after {expected}",
                )

    def stock(self) -> Iterator[Discrepancy]:
        where, params = _within("p.product_id", self.scope.products)
        sold_total = 0
        for product_id, stock, sales_count, sold in self.rows(
            "SELECT p.product_id, p.stock, p.sales_count, COALESCE(SUM(s.quantity), 0)"
            " FROM products p"
            " LEFT JOIN (SELECT oi.product_id, oi.quantity FROM order_items oi"
            "   JOIN orders o ON o.order_id = oi.order_id AND o.status = 'PAID') s"
            "   ON s.product_id = p.product_id"
            f" WHERE {where} GROUP BY p.product_id, p.stock, p.sales_count",
            *params,
        ):
            initial = self.scope.stock(product_id)
            sold_total += int(sold)
            if stock + sold != initial:
                yield Discrepancy(
                    "stock", product_id, f"stock {stock} + sold {int(sold)} != initial {initial}"
                )
            if sales_count != sold:
                yield Discrepancy(
                    "sales_count", product_id, f"sales_count {sales_count} != sold {sold}"
                )
        self.counts["units sold"] = sold_total

    def money(self) -> Iterator[Discrepancy]:
        where, params = _within("user_id", self.scope.users)
        users = [u for (u,) in self.rows(f"SELECT user_id FROM users WHERE {where}", *params)]
        [(balances,)] = self.rows(
            f"SELECT COALESCE(SUM(balance), 0) FROM users WHERE {where}", *params
        )
        [(charges, refunds, paid_history, charge_rows)] = self.rows(
            "SELECT COALESCE(SUM(CASE WHEN reason = 'CHARGE' THEN amount END), 0),"
            " COALESCE(SUM(CASE WHEN reason = 'REFUND' THEN amount END), 0),"
            " COALESCE(-SUM(CASE WHEN reason = 'PAYMENT' THEN amount END), 0),"
            " COUNT(CASE WHEN reason = 'CHARGE' THEN 1 END)"
            f" FROM balance_history WHERE {where}",
            *params,
        )
        [(completed, paid_table, payments)] = self.rows(
            "SELECT COALESCE(SUM(CASE WHEN status = 'COMPLETED' THEN amount END), 0),"
            f" COALESCE(SUM(amount), 0), COUNT(*) FROM payments WHERE {where}",
            *params,
        )
        self.counts["charges"] = int(charge_rows)
        self.counts["payments"] = int(payments)
        initial = sum(self.scope.balance(u) for u in users)
        expected = initial + charges + refunds - completed
        if balances != expected:
            yield Discrepancy(
                "money",
                f"{len(users)} users",
                f"balances {int(balances)} != initial {initial} + charges {int(charges)}"
                f" + refunds {int(refunds)} - payments {int(completed)}"
                f" (off by {int(balances - expected)})",
            )
        if paid_history != paid_table:
            yield Discrepancy(
                "money", "payments", f"history paid {int(paid_history)}, table {int(paid_table)}"
            )

    def orders(self) -> Iterator[Discrepancy]:
        where, params = _within("o.user_id", self.scope.users)
        [(orders,)] = self.rows(f"SELECT COUNT(*) FROM orders o WHERE {where}", *params)
        self.counts["orders"] = int(orders)
        for order_id, final, payments, paid in self.rows(
            "SELECT o.order_id, o.final_amount, COUNT(p.payment_id), COALESCE(SUM(p.amount), 0)"
            " FROM orders o LEFT JOIN payments p ON p.order_id = o.order_id"
            f" WHERE o.status = 'PAID' AND {where} GROUP BY o.order_id, o.final_amount"
            " HAVING COUNT(p.payment_id) <> 1 OR COALESCE(SUM(p.amount), 0) <> o.final_amount",
            *params,
        ):
            detail = f"{payments} payments" if payments != 1 else f"paid {paid} != final {final}"
            yield Discrepancy("order_payment", f"order {order_id}", detail)
        for order_id, total, discount, final, lines, count in self.rows(
            "SELECT o.order_id, o.total_amount, o.discount_amount, o.final_amount,"
            " COALESCE(SUM(oi.price * oi.quantity), 0), COUNT(oi.order_id)"
            " FROM orders o LEFT JOIN order_items oi ON oi.order_id = o.order_id"
            f" WHERE o.status = 'PAID' AND {where}"
            " GROUP BY o.order_id, o.total_amount, o.discount_amount, o.final_amount"
            " HAVING COUNT(oi.order_id) = 0"
            "   OR o.total_amount <> COALESCE(SUM(oi.price * oi.quantity), 0)"
            "   OR o.final_amount <> o.total_amount - o.discount_amount",
            *params,
        ):
            yield Discrepancy(
                "order_lines",
                f"order {order_id}",
                f"{count} lines of {int(lines)}, total {total}, discount {discount}, final {final}",
            )
        # Rows that name an order no longer (or never) there.
        for table, only, what in (
            ("payments", "", "payments without their order"),
            ("user_coupons", " AND t.status = 'USED'", "coupons used by no order"),
        ):
            where, params = _within("t.user_id", self.scope.users)
            [(orphans,)] = self.rows(
                f"SELECT COUNT(*) FROM {table} t LEFT JOIN orders o ON o.order_id = t.order_id"
                f" WHERE {where}{only} AND o.order_id IS NULL",
                *params,
            )
            if orphans:
                yield Discrepancy("orphan", table, f"{orphans} {what}")


def audit(db_url: str, scope: Scope | None = None) -> Report:
    """Every discrepancy over `scope` (the seeded data set by default), and what was counted."""
    report = Report()
    with connect(db_url, autocommit=False) as connection, connection.cursor() as cur:
        # Grouping 100,000 users fits in memory: keep MariaDB's temporary tables off disk
        # (a shared machine's /tmp is not always left alone).
        cur.execute("SET SESSION max_heap_table_size = 268435456, tmp_table_size = 268435456")
        # One snapshot for all checks: a run still settling cannot look inconsistent.
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        reader = _Reader(cur, scope or Scope(), report.counts)
        for check in (reader.coupons, reader.balances, reader.stock, reader.money, reader.orders):
            report.discrepancies += check()
        cur.execute("COMMIT")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest audit", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--db-url", default=os.environ.get("SHOP_DB_URL", "mysql://root:@127.0.0.1:3306/shop")
    )
    parser.add_argument("--initial-stock", type=int, default=SEED_STOCK)
    parser.add_argument("--initial-balance", type=int, default=SEED_BALANCE)
    args = parser.parse_args(argv)
    try:
        report = audit(
            args.db_url,
            Scope(initial_stock=args.initial_stock, initial_balance=args.initial_balance),
        )
    except pymysql.err.MySQLError as exc:
        raise SystemExit(f"consistency audit: could not run: {exc}") from None
    print(report.describe())
    return 0 if report.ok else 1
