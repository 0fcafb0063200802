"""Admin credentials: each names an actor and the scopes it may use (docs/security.md).

`SHOP_ADMIN_CREDENTIALS` holds `actor:scope+scope:secret` entries separated by spaces (a secret
may contain ':'). `SHOP_ADMIN_TOKEN` stays the actor `admin` with every operator scope, for the
lab, its load tests and game days; `charges` (a balance charge in production) is never one of
them: only a credential naming it, the payment service's, has it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from ..settings import Settings, SettingsError

OPERATOR_SCOPES = ("tokens", "seed", "incidents", "coupons")
SCOPES = (*OPERATOR_SCOPES, "charges")
LEGACY_ACTOR = "admin"
_ACTOR = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MIN_SECRET = 16


@dataclass(frozen=True, slots=True)
class Admin:
    """Who holds a credential and what it may do."""

    actor: str
    scopes: frozenset[str]


class Admins:
    """The configured credentials, checked by digest in constant time."""

    def __init__(self, credentials: list[tuple[Admin, str]]) -> None:
        # Digests compare on equal lengths: the check leaks no secret's length. An empty secret
        # is no credential at all (a blank Authorization header would match it).
        self._by_digest = [(_digest(secret), admin) for admin, secret in credentials if secret]

    @classmethod
    def from_settings(cls, settings: Settings) -> Admins:
        """Parse SHOP_ADMIN_CREDENTIALS beside SHOP_ADMIN_TOKEN; refuse a malformed entry."""
        entries = [(Admin(LEGACY_ACTOR, frozenset(OPERATOR_SCOPES)), settings.admin_token.strip())]
        for entry in settings.admin_credentials.split():
            actor, _, rest = entry.partition(":")
            scopes, _, secret = rest.partition(":")
            named = frozenset(scopes.split("+"))
            if not _ACTOR.fullmatch(actor) or not named <= set(SCOPES) or not secret:
                raise SettingsError(
                    "SHOP_ADMIN_CREDENTIALS entries are actor:scope+scope:secret, scopes among"
                    f" {', '.join(SCOPES)}"
                )
            if settings.env == "prod" and len(secret) < MIN_SECRET:
                raise SettingsError(f"admin secrets are at least {MIN_SECRET} characters in prod")
            entries.append((Admin(actor, named), secret))
        return cls(entries)

    def identify(self, token: str) -> Admin | None:
        """The holder of `token`, or None (every credential is compared: no early exit)."""
        given = _digest(token.strip())
        found = None
        for digest, admin in self._by_digest:
            if hmac.compare_digest(given, digest):
                found = admin
        return found


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
