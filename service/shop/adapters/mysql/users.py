"""Users' balances and balance history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...domain.users import BalanceChange, BalanceReason
from .session import Repository, cases, placeholders
from .times import from_db, to_db

# Read in the same round trip as a guarded update of the row, inside its transaction.
_BALANCE = "SELECT balance FROM users WHERE user_id = %s"


class UsersRepository(Repository):
    __slots__ = ()

    async def balance(self, user_id: str, *, lock: bool = False) -> int | None:
        sql = _BALANCE + (" FOR UPDATE" if lock else "")
        row = await self._s.fetch_one("users.balance", sql, (user_id,))
        return None if row is None else int(row[0])

    async def credit(self, user_id: str, amount: int, *, limit: int) -> int | None:
        return await self._change(
            "users.credit",
            "UPDATE users SET balance = balance + %s WHERE user_id = %s AND balance + %s <= %s",
            (amount, user_id, amount, limit),
            user_id,
        )

    async def lock_balances(self, user_ids: Sequence[str]) -> dict[str, int]:
        rows = await self._s.fetch_locked(
            "users.lock", "SELECT user_id, balance FROM users", "user_id", user_ids
        )
        return {r[0]: int(r[1]) for r in rows}

    async def debit_many(self, amounts: Mapping[str, int]) -> bool:
        ids = sorted(amounts)
        case, per_id = cases(ids, amounts)
        # One guarded statement: a row only changes where its balance covers its amount.
        changed = await self._s.execute(
            "users.debit",
            f"UPDATE users SET balance = balance - ({case})"
            f" WHERE user_id IN ({placeholders(len(ids))}) AND balance >= ({case})",
            [*per_id, *ids, *per_id],
        )
        return changed == len(ids)

    async def _change(
        self, name: str, guarded: str, params: tuple[object, ...], user_id: str
    ) -> int | None:
        """The guarded update and the balance it left, in one round trip; None if refused."""
        changed, row = await self._s.write_then_fetch_one(
            name, guarded, params, _BALANCE, (user_id,)
        )
        return int(row[0]) if changed == 1 and row is not None else None

    async def record(
        self, user_id: str, change: BalanceChange, *, order_id: int | None = None
    ) -> None:
        # Nothing is read back and nothing refuses it: it travels with the next statement.
        self._s.defer(
            "balance_history.insert",
            "INSERT INTO balance_history (user_id, amount, previous_balance, current_balance,"
            " reason, order_id, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                user_id,
                change.amount,
                change.previous_balance,
                change.current_balance,
                change.reason.value,
                order_id,
                to_db(change.created_at),
            ),
        )

    async def history(self, user_id: str, *, limit: int) -> list[BalanceChange]:
        rows = await self._s.fetch_all(
            "balance_history.by_user",
            "SELECT amount, previous_balance, current_balance, reason, created_at"
            " FROM balance_history WHERE user_id = %s ORDER BY id DESC LIMIT %s",
            (user_id, limit),
        )
        return [
            BalanceChange(
                amount=int(r[0]),
                previous_balance=int(r[1]),
                current_balance=int(r[2]),
                reason=BalanceReason(r[3]),
                created_at=from_db(r[4]),
            )
            for r in rows
        ]
