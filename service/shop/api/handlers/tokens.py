"""Handler: user bearer tokens minted by an admin (`docs/api.md`, Authentication)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ...keys import KEYRING, REVOCATION_STORE, SETTINGS
from ..framework.endpoint import Call
from ..types.inputs import MintToken, NoInput, RevokeTokens
from ..types.outputs import TokensRevoked, UserToken


async def mint(call: Call[NoInput, NoInput, MintToken]) -> UserToken:
    """Admin: a token for one user."""
    app = call.request.app
    ttl = app[SETTINGS].token_ttl if call.body.ttl_seconds is None else call.body.ttl_seconds
    user_id = call.body.user_id
    token, expires_at = app[KEYRING].mint(user_id, ttl=ttl, now=time.time())
    return UserToken(token, user_id, datetime.fromtimestamp(expires_at, UTC).isoformat())


async def revoke(call: Call[NoInput, NoInput, RevokeTokens]) -> TokensRevoked:
    """Admin: refuse every token of a user issued until now (what `make revoke` does)."""
    # The next whole second: a token minted earlier in the current second is refused too.
    not_before = int(time.time()) + 1
    await call.request.app[REVOCATION_STORE].revoke(call.body.user_id, not_before=not_before)
    return TokensRevoked(call.body.user_id, datetime.fromtimestamp(not_before, UTC).isoformat())
