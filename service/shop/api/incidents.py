"""Handlers: the incident switches (admin)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..domain.errors import MissingField
from ..incidents.switches import Switch
from ..keys import SWITCHES
from .parsing import body_fields
from .responses import json_response


def _render(switch: Switch) -> dict[str, Any]:
    return {
        "switch": switch.name,
        "value": switch.value,
        "normal": switch.normal,
        "on": switch.on,
        "description": switch.description,
    }


async def list_switches(request: web.Request) -> web.Response:
    return json_response([_render(s) for s in request.app[SWITCHES].all()])


async def set_switch(request: web.Request) -> web.Response:
    body = await body_fields(request)
    raw = body.raw("value")
    if raw is None:
        raise MissingField("body field 'value' is required")
    switch = await request.app[SWITCHES].set(request.match_info["switch"], raw)
    return json_response(_render(switch))
