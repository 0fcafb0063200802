"""The switches' current values: process-local, read on every request they affect."""

from __future__ import annotations

from dataclasses import dataclass

ORDER_LOCK_SCOPES = ("user", "global")


@dataclass(slots=True)
class Switches:
    order_lock_scope: str = "user"

    def get_order_lock_scope(self) -> str:
        """The scope orders lock on: `user` (normal) or `global` (the original's outage)."""
        return self.order_lock_scope
