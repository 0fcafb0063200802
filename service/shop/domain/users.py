"""Balances and their history."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class BalanceReason(enum.StrEnum):
    CHARGE = "CHARGE"
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"


# How many balance movements one history page may show, and how many it shows unasked.
MAX_HISTORY_LIMIT = 100
DEFAULT_HISTORY_LIMIT = 20


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """One movement: `amount` is signed, so previous + amount = current always holds."""

    amount: int
    previous_balance: int
    current_balance: int
    reason: BalanceReason
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ChargeReceipt:
    user_id: str
    previous_balance: int
    charged_amount: int
    current_balance: int
    charged_at: datetime
