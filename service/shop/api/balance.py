"""Handlers: users' balances."""

from __future__ import annotations

from aiohttp import web

from ..domain.money import MAX_CHARGE, MIN_CHARGE
from ..keys import DEPS
from ..use_cases import balance
from . import render
from .auth import act_as
from .idempotency import respond_once
from .parsing import body_fields, path_id, query_fields
from .responses import json_response

MAX_HISTORY = 100


async def get_balance(request: web.Request) -> web.Response:
    user_id = act_as(request, path_id(request, "userId"))
    amount = await balance.get_balance(deps=request.app[DEPS], user_id=user_id)
    return json_response({"userId": user_id, "balance": amount})


async def charge(request: web.Request) -> web.Response:
    user_id = act_as(request, path_id(request, "userId"))
    amount = (await body_fields(request)).integer("amount", minimum=MIN_CHARGE, maximum=MAX_CHARGE)
    return await respond_once(
        request,
        user_id=user_id,
        effect=lambda deps: balance.charge_balance(deps=deps, user_id=user_id, amount=amount),
        render=render.charge,
    )


async def history(request: web.Request) -> web.Response:
    user_id = act_as(request, path_id(request, "userId"))
    limit = query_fields(request).optional_integer(
        "limit", minimum=1, maximum=MAX_HISTORY, default=20
    )
    changes = await balance.balance_history(deps=request.app[DEPS], user_id=user_id, limit=limit)
    return json_response([render.balance_change(c) for c in changes])
