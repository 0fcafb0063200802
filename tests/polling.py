"""Waiting for a state another task reaches, by polling (the per-test timeout bounds it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], *, step: float = 0.01) -> None:
    """Return once `condition()` holds; state owned by other code has no event to await."""
    while True:
        if condition():
            return
        await asyncio.sleep(step)
