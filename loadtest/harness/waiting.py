"""Waiting for a state another process brings about: there is no event to wait on, so poll.

The time limits are ceilings against hanging forever, not timing assertions.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable


def wait_until(
    check: Callable[[], object],
    *,
    within: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
    poll: float = 0.2,
) -> float:
    """Ask `check` every `poll` seconds until it holds; returns the wall-clock time it did.

    TimeoutError past `within` seconds; RuntimeError at once when `process` (whatever is meant
    to bring the state about) exits first.
    """
    deadline = time.monotonic() + within
    while True:
        if check():
            return time.time()
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {within:.0f} s")
        time.sleep(poll)


async def until(check: Callable[[], Awaitable[bool]], *, within: float = 30.0) -> float:
    """Await `check` every 50 ms until it holds; returns the seconds it took."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        while True:
            if await check():
                return time.monotonic() - started
            await asyncio.sleep(0.05)
