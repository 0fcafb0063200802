"""The keys a shop signs with and accepts, bound to its environment and lifetime limit.

Rotation with overlap: the current key signs; one more key (`SHOP_AUTH_ACCEPT_*`) verifies and
never signs, until `SHOP_AUTH_ACCEPT_UNTIL` or until it is removed. Several replicas rotate in
three steps: give every replica the new key to accept; make it the current key everywhere, the
old one accepted until the longest lifetime has passed; remove the old one. Outside production
the load-test tools' key is accepted too; production never accepts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..domain.errors import InvalidInput
from ..settings import LOADTEST_KEY_ID, Settings
from .revocations import Revocations
from .tokens import Claims, InvalidToken, Token, TokenSigner

# A token issued this far in a replica's future still verifies (clocks of replicas drift).
CLOCK_SKEW = 60


@dataclass(frozen=True, slots=True)
class Accepted:
    signer: TokenSigner
    until: float | None = None  # unix seconds; None: as long as it is configured


@dataclass(frozen=True, slots=True)
class Keyring:
    current: TokenSigner
    env: str
    max_ttl: int
    others: Mapping[str, Accepted] = field(default_factory=dict)
    revocations: Revocations = field(default_factory=Revocations)

    @classmethod
    def from_settings(cls, s: Settings, revocations: Revocations | None = None) -> Keyring:
        others: dict[str, Accepted] = {}
        if s.auth_accept_secret:
            until = float(s.auth_accept_until) or None
            extra = TokenSigner.from_secret(s.auth_accept_secret, s.auth_accept_key_id)
            others[extra.key_id] = Accepted(extra, until)
        if s.loadtest_key:  # never in production
            others[LOADTEST_KEY_ID] = Accepted(
                TokenSigner.from_secret(s.loadtest_key, LOADTEST_KEY_ID)
            )
        return cls(
            current=TokenSigner.from_secret(s.auth_secret, s.auth_key_id),
            env=s.env,
            max_ttl=s.max_token_ttl,
            others=others,
            revocations=revocations or Revocations(),
        )

    def mint(self, user_id: str, *, ttl: int, now: float) -> tuple[str, int]:
        """A token of the current key and its expiry; InvalidInput past the lifetime limit."""
        if not 0 < ttl <= self.max_ttl:
            raise InvalidInput(
                f"a token lives 1 to {self.max_ttl} seconds in the {self.env} environment"
            )
        issued = int(now)
        token = self.current.mint(user_id, expires_at=issued + ttl, env=self.env, issued_at=issued)
        return token, issued + ttl

    def _signer(self, key_id: str, now: float) -> TokenSigner:
        if key_id == self.current.key_id:
            return self.current
        accepted = self.others.get(key_id)
        if accepted is None:
            raise InvalidToken("unknown signing key")
        if accepted.until is not None and now >= accepted.until:
            raise InvalidToken("signing key retired")
        return accepted.signer

    def verify(self, text: str, *, now: float) -> Claims:
        """The claims of a genuine, current token of this environment; InvalidToken otherwise."""
        token = Token.parse(text)
        claims = token.claims
        if not self._signer(claims.key_id, now).genuine(token):
            raise InvalidToken("bad token signature")
        if claims.env != self.env:
            raise InvalidToken(f"token of the {claims.env} environment")
        if claims.expires_at <= now:
            raise InvalidToken("token expired")
        if claims.issued_at > now + CLOCK_SKEW:
            raise InvalidToken("token issued in the future")
        if claims.expires_at - claims.issued_at > self.max_ttl:
            raise InvalidToken("token lifetime above the maximum")
        if self.revocations.revoked(claims.user_id, claims.issued_at):
            raise InvalidToken("token revoked")
        return claims
