"""Bearer tokens for load-test users when the shop runs with SHOP_AUTH=required.

Minted offline with the shop's secret (`shop.auth.tokens`), once per user, valid for the
longest run: a token expiring mid-run would read as an outage.
"""

from __future__ import annotations

import time

from shop.auth.tokens import MAX_TTL, TokenSigner


class UserTokens:
    """`Authorization` headers per user; none at all without a secret (SHOP_AUTH=off)."""

    def __init__(self, secret: str) -> None:
        self._signer = TokenSigner.from_secret(secret) if secret else None
        self._tokens: dict[str, str] = {}

    def headers(self, user: str | None) -> dict[str, str]:
        if self._signer is None or user is None:
            return {}
        token = self._tokens.get(user)
        if token is None:
            expires_at = int(time.time()) + MAX_TTL
            token = self._tokens[user] = self._signer.mint(user, expires_at=expires_at)
        return {"Authorization": f"Bearer {token}"}
