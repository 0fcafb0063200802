"""Handlers: users' balances."""

from __future__ import annotations

from functools import partial

from ...domain import users
from ...use_cases import balance
from ..framework.endpoint import Call
from ..types.inputs import ChargeRequest, HistoryQuery, NoInput, UserPath
from ..types.outputs import Balance, BalanceChange, ChargeReceipt


async def get_balance(call: Call[UserPath, NoInput, NoInput]) -> Balance:
    user_id = call.path.user_id
    return Balance(user_id, await balance.get_balance(deps=call.deps, user_id=user_id))


async def charge(call: Call[UserPath, NoInput, ChargeRequest]) -> ChargeReceipt:
    charge = partial(
        balance.charge_balance, deps=call.deps, user_id=call.path.user_id, amount=call.body.amount
    )
    return ChargeReceipt.of(await call.once(charge, users.ChargeReceipt))


async def history(call: Call[UserPath, HistoryQuery, NoInput]) -> list[BalanceChange]:
    changes = await balance.balance_history(
        deps=call.deps, user_id=call.path.user_id, limit=call.query.limit
    )
    return [BalanceChange.of(c) for c in changes]
