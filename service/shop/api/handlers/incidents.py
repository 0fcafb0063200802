"""Handlers: the incident switches (admin)."""

from __future__ import annotations

from ...domain.errors import MissingField
from ...keys import SWITCHES
from ..framework.endpoint import Call
from ..types.inputs import NoInput, SetIncidentSwitch, SwitchPath
from ..types.outputs import IncidentSwitch


async def list_switches(call: Call[NoInput, NoInput, NoInput]) -> list[IncidentSwitch]:
    return [IncidentSwitch.of(s) for s in call.request.app[SWITCHES].all()]


async def set_switch(call: Call[SwitchPath, NoInput, SetIncidentSwitch]) -> IncidentSwitch:
    if call.body.value is None:
        raise MissingField("body field 'value' is required")
    switch = await call.request.app[SWITCHES].set(call.path.switch, call.body.value)
    return IncidentSwitch.of(switch)
