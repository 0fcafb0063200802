"""Idempotency keys (Stripe's semantics): what a retry of a keyed request is answered."""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import InvalidInput

MAX_KEY_LENGTH = 255
# Printable ASCII without spaces: what a header carries unchanged through every proxy.
_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")


def check_key(raw: str) -> str:
    """The key as sent; InvalidInput when it is empty, too long or not printable ASCII."""
    if not _KEY.fullmatch(raw):
        raise InvalidInput(
            f"header 'Idempotency-Key' must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )
    return raw


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    """What makes two requests "the same request" (the body in canonical form)."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


@dataclass(frozen=True, slots=True)
class Outcome:
    """A keyed request's first outcome as stored: its result's JSON or its refusal's, and when.

    What is stored is the use case's own answer, not an HTTP one: the API renders it the same
    way the first time and on every replay, from the same value and the same instant.
    """

    refused: bool
    body: bytes
    at: datetime


@dataclass(frozen=True, slots=True)
class KeyRecord:
    fingerprint: bytes
    claim_token: str
    claimed_at: datetime
    created_at: datetime
    outcome: Outcome | None


class Verdict(enum.Enum):
    REPLAY = "replay"  # answered before: send the same answer again
    MISMATCH = "mismatch"  # the key came with another request: 422
    IN_PROGRESS = "in_progress"  # the first request is still running: 409
    STALE_CLAIM = "stale_claim"  # claimed by a request that died before its answer: take over
    EXPIRED = "expired"  # older than the retention: a new request


def judge(
    record: KeyRecord,
    *,
    fingerprint: bytes,
    now: datetime,
    ttl: timedelta,
    claim_timeout: timedelta,
) -> Verdict:
    """What a request carrying an already stored key gets."""
    if record.created_at + ttl <= now:
        return Verdict.EXPIRED
    if not hmac.compare_digest(record.fingerprint, fingerprint):
        return Verdict.MISMATCH
    if record.outcome is not None:
        return Verdict.REPLAY
    if record.claimed_at + claim_timeout <= now:
        return Verdict.STALE_CLAIM
    return Verdict.IN_PROGRESS
