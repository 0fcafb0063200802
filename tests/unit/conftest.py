"""Unit tests run with no service at all: any attempt to open a TCP connection fails the test."""

from __future__ import annotations

import socket
from typing import Any

import pytest


class ServiceReached(AssertionError):
    """A unit test tried to talk to a service (MariaDB, Redis, anything over TCP)."""


@pytest.fixture(autouse=True)
def _no_services(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("connect", "connect_ex"):
        original = getattr(socket.socket, name)

        def refuse(self: socket.socket, address: Any, _original: Any = original) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6):
                raise ServiceReached(f"a unit test tried to connect to {address!r}")
            return _original(self, address)

        monkeypatch.setattr(socket.socket, name, refuse)
