"""The shop's admin API as the tools call it (bearer admin token, JSON both ways).

Standard library only: compose's load-generator image imports it with locust and nothing else.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

# Generous: the cart_index switch builds an index over every cart line under load.
TIMEOUT = 180.0


def call(
    url: str, token: str, method: str, path: str, body: Any = None, timeout: float = TIMEOUT
) -> Any:
    """`method path` on the shop at `url`; the decoded answer (None for an empty one)."""
    request = urllib.request.Request(
        f"{url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def flip(url: str, token: str, switch: str, value: Any) -> Any:
    """Set an incident switch (docs/operations.md) on every replica sharing this one's Redis."""
    return call(url, token, "PUT", f"/api/admin/incidents/{switch}", {"value": value})


def switches(url: str, token: str) -> dict[str, Any]:
    """Every incident switch and its value now."""
    return {s["switch"]: s["value"] for s in call(url, token, "GET", "/api/admin/incidents")}
