"""Charging and reading balances."""

from __future__ import annotations

from ..domain.errors import BalanceLimitExceeded, UserNotFound
from ..domain.money import MAX_BALANCE
from ..domain.users import BalanceChange, BalanceReason, ChargeReceipt
from .deps import Deps
from .ports import Tx


async def require_user(tx: Tx, user_id: str) -> int:
    """The user's balance; UserNotFound for an unknown id."""
    balance = await tx.users.balance(user_id)
    if balance is None:
        raise UserNotFound(f"user {user_id} not found")
    return balance


async def get_balance(*, deps: Deps, user_id: str) -> int:
    """The user's current balance."""
    return await deps.store.autocommit(lambda tx: require_user(tx, user_id))


async def balance_history(*, deps: Deps, user_id: str, limit: int) -> list[BalanceChange]:
    """The user's newest balance movements."""

    async def work(tx: Tx) -> list[BalanceChange]:
        await require_user(tx, user_id)
        return await tx.users.history(user_id, limit=limit)

    return await deps.store.autocommit(work)


async def charge_balance(*, deps: Deps, user_id: str, amount: int) -> ChargeReceipt:
    """Add `amount` to the balance; the guarded update alone already makes it race-free."""
    async with deps.locks.hold(
        f"charge:user:{user_id}", name="charge", wait=deps.lock_wait, lease=deps.lock_lease
    ) as lease:

        async def work(tx: Tx) -> ChargeReceipt:
            now = deps.clock()
            if not await tx.users.credit(user_id, amount, limit=MAX_BALANCE):
                await require_user(tx, user_id)
                raise BalanceLimitExceeded(
                    f"charging {amount} would take the balance past {MAX_BALANCE}"
                )
            current = await require_user(tx, user_id)
            change = BalanceChange(
                amount=amount,
                previous_balance=current - amount,
                current_balance=current,
                reason=BalanceReason.CHARGE,
                created_at=now,
            )
            await tx.users.record(user_id, change)
            lease.ensure_valid()
            return ChargeReceipt(
                user_id=user_id,
                previous_balance=change.previous_balance,
                charged_amount=amount,
                current_balance=current,
                charged_at=now,
            )

        return await deps.store.transaction(work)
