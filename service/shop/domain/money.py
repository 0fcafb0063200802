"""Integer won amounts: the bounds every balance and charge obeys.

The database enforces them (guarded updates and a CHECK constraint); these constants are
what the API validates against and what the guards are written with.
"""

from __future__ import annotations

MAX_BALANCE = 10**12
MIN_CHARGE = 1
MAX_CHARGE = 10_000_000
