"""Identifiers: every id is a string of bounded length (users, products, coupons, items)."""

from __future__ import annotations

MAX_ID_LENGTH = 64
