"""DATETIME(6) columns hold naive UTC; the rest of the shop sees aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def to_db(moment: datetime) -> datetime:
    """Aware datetime -> naive UTC for a DATETIME column."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def from_db(value: datetime) -> datetime:
    """Naive UTC from a DATETIME column -> aware datetime."""
    return value.replace(tzinfo=UTC)
