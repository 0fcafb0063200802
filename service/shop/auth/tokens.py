"""User bearer tokens: `v1.<user id, base64url>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`.

Signed with SHOP_AUTH_SECRET (HMAC-SHA256, standard library): any replica holding the secret
verifies a token without a database or Redis round trip. Tokens cannot be revoked one by one;
they expire (rotate the secret to revoke them all).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from dataclasses import dataclass

VERSION = "v1"
DEFAULT_SECRET = "dev-auth-secret"
DEFAULT_TTL = 3600
MAX_TOKEN_LENGTH = 512
MAX_USER_ID_LENGTH = 64


class InvalidToken(Exception):
    """The token is malformed, forged or expired (the message says which, never the secret)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class TokenSigner:
    secret: bytes

    @classmethod
    def from_secret(cls, secret: str) -> TokenSigner:
        return cls(secret.encode())

    def _mac(self, signed: str) -> str:
        return _b64(hmac.new(self.secret, signed.encode("ascii"), hashlib.sha256).digest())

    def mint(self, user_id: str, *, expires_at: int) -> str:
        """A token for `user_id` valid until `expires_at` (unix seconds)."""
        if not 0 < len(user_id) <= MAX_USER_ID_LENGTH:
            raise ValueError(f"a user id has 1 to {MAX_USER_ID_LENGTH} characters")
        signed = f"{VERSION}.{_b64(user_id.encode())}.{expires_at}"
        return f"{signed}.{self._mac(signed)}"

    def verify(self, token: str, *, now: float) -> str:
        """The user id the token carries; InvalidToken unless it is genuine and unexpired."""
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise InvalidToken("malformed token")
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != VERSION:
            raise InvalidToken("malformed token")
        signed, mac = token.rsplit(".", 1)
        # Constant time: the comparison does not tell a forger how much of the MAC was right.
        if not hmac.compare_digest(self._mac(signed).encode(), mac.encode()):
            raise InvalidToken("bad token signature")
        if not parts[2].isdigit() or int(parts[2]) <= now:
            raise InvalidToken("token expired")
        try:
            return _unb64(parts[1]).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):  # pragma: no cover - signed
            raise InvalidToken("malformed token") from None


def mint_token(
    user_id: str, *, secret: str | None = None, ttl: int = DEFAULT_TTL, now: float | None = None
) -> str:
    """A token for load-test tools and scripts: signed with `secret`, else SHOP_AUTH_SECRET."""
    key = secret if secret is not None else os.environ.get("SHOP_AUTH_SECRET", DEFAULT_SECRET)
    started = time.time() if now is None else now
    return TokenSigner.from_secret(key).mint(user_id, expires_at=int(started) + ttl)


def bearer_headers(
    user_id: str, *, secret: str | None = None, ttl: int = DEFAULT_TTL
) -> dict[str, str]:
    """`Authorization: Bearer <token>` for `user_id` (what a locust user sends)."""
    return {"Authorization": f"Bearer {mint_token(user_id, secret=secret, ttl=ttl)}"}
