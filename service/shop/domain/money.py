"""Integer won amounts: the bounds every balance and charge obeys."""

from __future__ import annotations

from .errors import BalanceLimitExceeded, InsufficientBalance

MAX_BALANCE = 10**12
MIN_CHARGE = 1
MAX_CHARGE = 10_000_000


def balance_after_charge(balance: int, amount: int) -> int:
    """Return the balance after a charge, refusing to pass MAX_BALANCE."""
    after = balance + amount
    if after > MAX_BALANCE:
        raise BalanceLimitExceeded(f"balance would exceed the maximum of {MAX_BALANCE}")
    return after


def balance_after_payment(balance: int, amount: int) -> int:
    """Return the balance after a payment, refusing to go negative."""
    if amount > balance:
        raise InsufficientBalance(f"insufficient balance: {balance} available, {amount} required")
    return balance - amount
