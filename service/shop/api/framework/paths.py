"""Numeric ids in paths."""

from __future__ import annotations

from ...domain.errors import ShopError

# A BIGINT id has at most 19 digits; 18 keeps every accepted one inside its range.
MAX_ID_DIGITS = 18


def number(raw: str, not_found: ShopError) -> int:
    """A numeric id; anything that is not one cannot exist, so it is that resource's 404."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > MAX_ID_DIGITS:
        raise not_found
    return int(raw)
