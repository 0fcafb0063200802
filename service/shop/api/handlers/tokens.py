"""Handler: user bearer tokens minted by an admin (`docs/api.md`, Authentication)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ...auth.tokens import TokenSigner
from ...keys import SETTINGS
from ..framework.endpoint import Call
from ..types.inputs import MintToken, NoInput
from ..types.outputs import UserToken


async def mint(call: Call[NoInput, NoInput, MintToken]) -> UserToken:
    """Admin: a token for one user."""
    settings = call.request.app[SETTINGS]
    ttl = settings.token_ttl if call.body.ttl_seconds is None else call.body.ttl_seconds
    expires_at = int(time.time()) + ttl
    user_id = call.body.user_id
    token = TokenSigner.from_secret(settings.auth_secret).mint(user_id, expires_at=expires_at)
    return UserToken(token, user_id, datetime.fromtimestamp(expires_at, UTC).isoformat())
