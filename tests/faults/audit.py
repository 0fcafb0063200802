"""The consistency audit: what must hold in MariaDB after any load, fault or crash.

Read from the database alone (never from what the service answered), over a scope of users,
products and coupons with their initial values, so it runs on a private drill database and on
a shared one alike:

- coupons issued ≤ quantity, the counter equals the rows, and one per user;
- every balance = initial + the sum of its history, and each history row chains on the last;
- stock + units sold = initial stock;
- money conserved: balances = initial + charges − payments;
- every PAID order has exactly one payment, of its final amount, and at least one line whose
  sum is its total; no payment, line or coupon use without its order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiomysql

from shop.adapters.mysql.pool import parse_db_url


@dataclass(frozen=True)
class Scope:
    """What the audit covers: users and products with their initial values, and coupons."""

    balances: Mapping[str, int]
    stock: Mapping[str, int]
    coupons: Sequence[str] = ()


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    orders: int = 0
    payments: int = 0
    charges: int = 0
    coupons_issued: int = 0
    units_sold: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        """One line for a drill's report."""
        verdict = "clean" if self.ok else f"{len(self.violations)} violations"
        return (
            f"{verdict}: {self.orders} orders, {self.payments} payments, {self.charges} charges,"
            f" {self.coupons_issued} coupons issued, {self.units_sold} units sold"
        )


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


async def _column(rows: Any, table: str, key: str, column: str, ids: Sequence[str]) -> dict:
    """`column` of the rows of `table` whose `key` is in `ids`."""
    found = await rows(f"SELECT {key}, {column} FROM {table} WHERE {key} IN ({_marks(ids)})", *ids)
    return dict(found)


async def audit(db_url: str, scope: Scope) -> Report:
    """Check every invariant over `scope`; the report lists each violation found."""
    target = parse_db_url(db_url)
    conn = await aiomysql.connect(**target.connect_args(), db=target.database)
    try:
        async with conn.cursor() as cur:

            async def rows(sql: str, *params: Any) -> list[tuple[Any, ...]]:
                await cur.execute(sql, params)
                return list(await cur.fetchall())

            # One snapshot for every check: a write landing mid-audit cannot look inconsistent.
            await cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            report = Report()
            await _coupons(rows, scope, report)
            await _balances(rows, scope, report)
            await _stock(rows, scope, report)
            await _orders(rows, scope, report)
            return report
    finally:
        conn.close()


async def _coupons(rows: Any, scope: Scope, report: Report) -> None:
    for coupon in scope.coupons:
        [(total, issued)] = await rows(
            "SELECT total_quantity, issued_quantity FROM coupons WHERE coupon_id = %s", coupon
        )
        [(holders, copies)] = await rows(
            "SELECT COUNT(DISTINCT user_id), COUNT(*) FROM user_coupons WHERE coupon_id = %s",
            coupon,
        )
        report.coupons_issued += copies
        if issued > total:
            report.violations.append(f"coupon {coupon}: {issued} issued of {total}")
        if copies != issued:
            report.violations.append(f"coupon {coupon}: counter {issued}, rows {copies}")
        if holders != copies:
            report.violations.append(f"coupon {coupon}: {copies} copies to {holders} users")


async def _balances(rows: Any, scope: Scope, report: Report) -> None:
    users = list(scope.balances)
    if not users:
        return
    balance = await _column(rows, "users", "user_id", "balance", users)
    history: dict[str, list[tuple[Any, ...]]] = {u: [] for u in users}
    for row in await rows(
        "SELECT user_id, amount, previous_balance, current_balance, reason FROM balance_history"
        f" WHERE user_id IN ({_marks(users)}) ORDER BY user_id, id",
        *users,
    ):
        history[row[0]].append(row)
    charged = paid = 0
    for user, initial in scope.balances.items():
        moves = history[user]
        expected = initial + sum(m[1] for m in moves)
        if balance.get(user) != expected:
            report.violations.append(
                f"user {user}: balance {balance.get(user)} != initial {initial} + history"
            )
        running = initial
        for _, amount, previous, current, _ in moves:
            if previous != running or current != previous + amount:
                report.violations.append(f"user {user}: history does not chain at {previous}")
                break
            running = current
        charged += sum(m[1] for m in moves if m[4] == "CHARGE")
        paid += sum(-m[1] for m in moves if m[4] == "PAYMENT")
        report.charges += sum(1 for m in moves if m[4] == "CHARGE")
    [(payments,)] = await rows(
        f"SELECT COALESCE(SUM(amount), 0) FROM payments WHERE user_id IN ({_marks(users)})", *users
    )
    total = sum(balance.values())
    if total != sum(scope.balances.values()) + charged - int(payments):
        report.violations.append(
            f"money: balances {total} != initial + charges {charged} - payments {payments}"
        )
    if paid != int(payments):
        report.violations.append(f"money: history paid {paid}, payments table {payments}")


async def _stock(rows: Any, scope: Scope, report: Report) -> None:
    products = list(scope.stock)
    if not products:
        return
    stock = await _column(rows, "products", "product_id", "stock", products)
    sold = dict(
        await rows(
            "SELECT i.product_id, SUM(i.quantity) FROM order_items i"
            " JOIN orders o ON o.order_id = i.order_id AND o.status = 'PAID'"
            f" WHERE i.product_id IN ({_marks(products)}) GROUP BY i.product_id",
            *products,
        )
    )
    for product, initial in scope.stock.items():
        units = int(sold.get(product, 0))
        report.units_sold += units
        if stock.get(product, 0) + units != initial:
            report.violations.append(
                f"product {product}: stock {stock.get(product)} + sold {units} != {initial}"
            )


async def _orders(rows: Any, scope: Scope, report: Report) -> None:
    users = list(scope.balances)
    if not users:
        return
    within = f"o.user_id IN ({_marks(users)})"
    orders = await rows(
        "SELECT o.order_id, o.status, o.total_amount, o.final_amount,"
        " (SELECT COUNT(*) FROM payments p WHERE p.order_id = o.order_id),"
        " (SELECT COALESCE(SUM(p.amount), 0) FROM payments p WHERE p.order_id = o.order_id),"
        " (SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.order_id),"
        " (SELECT COALESCE(SUM(i.price * i.quantity), 0) FROM order_items i"
        "  WHERE i.order_id = o.order_id)"
        f" FROM orders o WHERE {within}",
        *users,
    )
    report.orders = len(orders)
    for order_id, status, total, final, pays, paid, lines, lines_total in orders:
        if status != "PAID":
            continue
        if pays != 1 or int(paid) != final:
            report.violations.append(f"order {order_id}: {pays} payments of {paid} for {final}")
        if lines == 0 or int(lines_total) != total:
            report.violations.append(f"order {order_id}: {lines} lines of {lines_total}, {total}")
    [(payments, orphans)] = await rows(
        "SELECT COUNT(*), SUM(o.order_id IS NULL) FROM payments p"
        " LEFT JOIN orders o ON o.order_id = p.order_id"
        f" WHERE p.user_id IN ({_marks(users)})",
        *users,
    )
    report.payments = int(payments)
    if orphans:
        report.violations.append(f"{orphans} payments without their order")
    [(used_orphans,)] = await rows(
        "SELECT COUNT(*) FROM user_coupons uc LEFT JOIN orders o ON o.order_id = uc.order_id"
        f" WHERE uc.user_id IN ({_marks(users)}) AND uc.status = 'USED' AND o.order_id IS NULL",
        *users,
    )
    if used_orphans:
        report.violations.append(f"{used_orphans} coupons used by no order")
