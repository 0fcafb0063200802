"""Charging and reading balances."""

from __future__ import annotations

from datetime import datetime

from ..domain.errors import BalanceLimitExceeded, UserNotFound, found
from ..domain.money import MAX_BALANCE
from ..domain.users import BalanceChange, BalanceReason, ChargeReceipt
from .deps import Deps
from .ports import Tx
from .seals import Seal, transaction


async def balance_of(tx: Tx, user_id: str) -> int:
    """The user's balance; UserNotFound for an unknown id (so it also says the user exists)."""
    return found(await tx.users.balance(user_id), UserNotFound, f"user {user_id}")


async def get_balance(*, deps: Deps, user_id: str) -> int:
    """The user's current balance."""
    return await deps.store.autocommit(lambda tx: balance_of(tx, user_id))


async def balance_history(*, deps: Deps, user_id: str, limit: int) -> list[BalanceChange]:
    """The user's newest balance movements."""
    return await deps.store.autocommit(lambda tx: _history(tx, user_id, limit))


async def charge_balance(
    *, deps: Deps, user_id: str, amount: int, seal: Seal | None = None
) -> ChargeReceipt:
    """Add `amount` to the balance; the guarded update alone already makes it race-free."""
    async with deps.locks.hold(f"charge:user:{user_id}", name="charge") as lease:
        now = deps.clock()
        return await transaction(
            deps.store, lambda tx: _credit(tx, user_id, amount, now), fence=lease, seal=seal
        )


async def _history(tx: Tx, user_id: str, limit: int) -> list[BalanceChange]:
    await balance_of(tx, user_id)
    return await tx.users.history(user_id, limit=limit)


async def _credit(tx: Tx, user_id: str, amount: int, now: datetime) -> ChargeReceipt:
    """One charge's transaction: guarded credit and its history row."""
    current = await tx.users.credit(user_id, amount, limit=MAX_BALANCE)
    if current is None:
        await balance_of(tx, user_id)
        raise BalanceLimitExceeded(f"charging {amount} would take the balance past {MAX_BALANCE}")
    change = BalanceChange(
        amount=amount,
        previous_balance=current - amount,
        current_balance=current,
        reason=BalanceReason.CHARGE,
        created_at=now,
    )
    await tx.users.record(user_id, change)
    return ChargeReceipt(
        user_id=user_id,
        previous_balance=change.previous_balance,
        charged_amount=amount,
        current_balance=current,
        charged_at=now,
    )
