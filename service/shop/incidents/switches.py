"""Runtime incident switches: each reproduces one of the original's failures, and flipping it
back restores normal service without a restart. Values live in this process and, with
shared values configured, in Redis for the whole fleet. `catalogue.py` lists the switches."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..domain.errors import InvalidInput, ShopError, Unavailable
from ..telemetry.logging import get_logger

log = get_logger("shop.incidents")

# How often a replica picks up switches flipped on another one.
SYNC_INTERVAL = 0.5
Parse = Callable[[Any], Any]
Apply = Callable[[Any], Awaitable[None]]
# (switch, value, on, changed): `changed` is False for the initial report at registration.
Changed = Callable[[str, Any, bool, bool], None]
# The value every switch accepts for "back to normal", so a runbook never hard-codes a size.
NORMAL = "normal"


class UnknownSwitch(ShopError):
    code = "INC001"


class SwitchNotShared(Unavailable):
    code = "INC002"


def choice(*allowed: str) -> Parse:
    """A parser accepting one of `allowed`."""

    def parse(value: Any) -> str:
        if value not in allowed:
            raise InvalidInput(f"value must be one of {', '.join(allowed)}")
        return str(value)

    return parse


def whole(minimum: int, maximum: int) -> Parse:
    """A parser accepting a whole number in [minimum, maximum]."""

    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput("value must be a whole number")
        if not minimum <= value <= maximum:
            raise InvalidInput(f"value must be between {minimum} and {maximum}")
        return value

    return parse


@dataclass(slots=True)
class Switch:
    name: str
    description: str
    normal: Any
    parse: Parse
    apply: Apply | None
    value: Any

    @property
    def on(self) -> bool:
        """True while the switch is away from its normal value."""
        return bool(self.value != self.normal)


class SharedValues(Protocol):
    """Where every replica finds the fleet's switch values (Redis, when configured)."""

    async def publish(self, name: str, value: Any) -> None:
        """Record a new value for every replica."""
        ...

    async def snapshot(self) -> dict[str, Any]:
        """Every value recorded so far; SwitchNotShared when they cannot be read."""
        ...


class Switches:
    """The registry; `catalogue.register_switches` registers each switch with how to apply it.

    With shared values, a flip on any replica reaches the others at their next sync
    (every SYNC_INTERVAL), so an operator flips the fleet with one call.
    """

    def __init__(
        self, on_change: Changed | None = None, shared: SharedValues | None = None
    ) -> None:
        self._switches: dict[str, Switch] = {}
        self._on_change = on_change
        self.shared = shared

    def register(
        self, name: str, *, description: str, normal: Any, parse: Parse, apply: Apply | None = None
    ) -> None:
        """Declare a switch at its normal value."""
        self._switches[name] = Switch(name, description, normal, parse, apply, normal)
        if self._on_change:
            self._on_change(name, normal, False, False)

    def value(self, name: str) -> Any:
        """The switch's current value."""
        return self._switches[name].value

    def all(self) -> Sequence[Switch]:
        """Every switch, in registration order."""
        return list(self._switches.values())

    async def set(self, name: str, raw: Any) -> Switch:
        """Validate, apply here, then publish to the other replicas."""
        switch = await self._apply(name, raw)
        if self.shared is not None:
            await self.shared.publish(name, switch.value)
        return switch

    async def keep_in_sync(self, interval: float = SYNC_INTERVAL) -> None:
        """Pick up, forever, switches flipped on other replicas; an outage only delays it."""
        failing = False
        while True:
            try:
                await self.sync()
                failing = False
            except ShopError as exc:
                if not failing:  # once per outage, not twice a second
                    log.warning("incident_switch_sync_failed", error=str(exc))
                failing = True
            await asyncio.sleep(interval)

    async def sync(self) -> None:
        """Take on the values other replicas published."""
        if self.shared is None:
            return
        for name, value in (await self.shared.snapshot()).items():
            switch = self._switches.get(name)
            if switch is not None and switch.value != value:
                await self._apply(name, value)

    async def _apply(self, name: str, raw: Any) -> Switch:
        switch = self._switches.get(name)
        if switch is None:
            raise UnknownSwitch(f"no incident switch named {name!r}")
        value = switch.normal if raw == NORMAL else switch.parse(raw)
        if switch.apply is not None:
            await switch.apply(value)
        switch.value = value
        if self._on_change:
            self._on_change(name, value, switch.on, True)
        return switch
