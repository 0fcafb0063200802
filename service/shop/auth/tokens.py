"""User bearer tokens, HMAC-SHA256 signed (standard library only, no I/O):

`v2.<key id>.<environment>.<user id, base64url>.<issued at>.<expires at>.<MAC, base64url>`

The key id names the secret that signed it (rotation with overlap, keyring.py); the
environment binds it to `dev`, `test` or `prod`; the issue time lets a user's tokens be revoked
(revocations.py) and, with the expiry, bounds a token's lifetime.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ..settings import DEFAULT_KEY_ID, DEFAULT_LOADTEST_SECRET, KEY_ID, LOADTEST_KEY_ID

VERSION = "v2"
DEFAULT_ENV = "dev"
DEFAULT_TTL = 3600
MAX_TOKEN_LENGTH = 512
MAX_USER_ID_LENGTH = 64
_ENVIRONMENT = re.compile(r"[a-z]{1,16}")


class InvalidToken(Exception):
    """The token is malformed, forged, expired or revoked (the message says which)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Claims:
    """What a token says, once its signature is known to be genuine."""

    user_id: str
    key_id: str
    env: str
    issued_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class Token:
    """A token split into its signed text, its claims and its MAC (nothing verified yet)."""

    signed: str
    claims: Claims
    mac: str

    @classmethod
    def parse(cls, text: str) -> Token:
        if len(text) > MAX_TOKEN_LENGTH or not text.isascii():
            raise InvalidToken("malformed token")
        parts = text.split(".")
        if len(parts) != 7 or parts[0] != VERSION:
            raise InvalidToken("malformed token")
        _, key_id, env, user, issued, expires, mac = parts
        if not (issued.isdigit() and expires.isdigit()):
            raise InvalidToken("malformed token")
        try:
            user_id = _unb64(user).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidToken("malformed token") from None
        claims = Claims(user_id, key_id, env, int(issued), int(expires))
        return cls(text.rsplit(".", 1)[0], claims, mac)


@dataclass(frozen=True, slots=True)
class TokenSigner:
    """One secret under one key id."""

    secret: bytes
    key_id: str = DEFAULT_KEY_ID

    @classmethod
    def from_secret(cls, secret: str, key_id: str = DEFAULT_KEY_ID) -> TokenSigner:
        if not KEY_ID.fullmatch(key_id):
            raise ValueError("a key id has 1 to 32 letters, digits, '-' or '_'")
        return cls(secret.encode(), key_id)

    def _mac(self, signed: str) -> str:
        return _b64(hmac.new(self.secret, signed.encode("ascii"), hashlib.sha256).digest())

    def mint(
        self, user_id: str, *, expires_at: int, env: str = DEFAULT_ENV, issued_at: int | None = None
    ) -> str:
        """A token for `user_id` in `env`, valid from `issued_at` (now) until `expires_at`."""
        if not 0 < len(user_id) <= MAX_USER_ID_LENGTH:
            raise ValueError(f"a user id has 1 to {MAX_USER_ID_LENGTH} characters")
        if not _ENVIRONMENT.fullmatch(env):
            raise ValueError("an environment name has 1 to 16 lower-case letters")
        issued = int(time.time()) if issued_at is None else issued_at
        signed = f"{VERSION}.{self.key_id}.{env}.{_b64(user_id.encode())}.{issued}.{expires_at}"
        return f"{signed}.{self._mac(signed)}"

    def genuine(self, token: Token) -> bool:
        """Whether this key signed `token` (constant time: a forger learns nothing of the MAC)."""
        return hmac.compare_digest(self._mac(token.signed).encode(), token.mac.encode())


def mint_tokens(
    user_ids: Iterable[str], *, ttl: int = DEFAULT_TTL, now: float | None = None
) -> list[str]:
    """Tokens for load-test tools and scripts, signed with their own secret
    (SHOP_LOADTEST_SECRET, never the shop's SHOP_AUTH_SECRET) for SHOP_ENV."""
    secret = os.environ.get("SHOP_LOADTEST_SECRET") or DEFAULT_LOADTEST_SECRET
    started = int(time.time() if now is None else now)
    signer = TokenSigner.from_secret(secret, LOADTEST_KEY_ID)
    env = os.environ.get("SHOP_ENV") or DEFAULT_ENV
    return [
        signer.mint(user_id, expires_at=started + ttl, env=env, issued_at=started)
        for user_id in user_ids
    ]


def mint_token(user_id: str, *, ttl: int = DEFAULT_TTL, now: float | None = None) -> str:
    """One load-test token (mint_tokens)."""
    return mint_tokens([user_id], ttl=ttl, now=now)[0]


def bearer_headers(user_id: str, *, ttl: int = DEFAULT_TTL) -> dict[str, str]:
    """`Authorization: Bearer <token>` for `user_id` (what a locust user sends)."""
    return {"Authorization": f"Bearer {mint_token(user_id, ttl=ttl)}"}
