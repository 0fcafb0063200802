"""Handler: user bearer tokens minted by an admin (`docs/api.md`, Authentication)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ...keys import KEYRING, SETTINGS
from ..framework.endpoint import Call
from ..types.inputs import MintToken, NoInput
from ..types.outputs import UserToken


async def mint(call: Call[NoInput, NoInput, MintToken]) -> UserToken:
    """Admin: a token for one user."""
    app = call.request.app
    ttl = app[SETTINGS].token_ttl if call.body.ttl_seconds is None else call.body.ttl_seconds
    user_id = call.body.user_id
    token, expires_at = app[KEYRING].mint(user_id, ttl=ttl, now=time.time())
    return UserToken(token, user_id, datetime.fromtimestamp(expires_at, UTC).isoformat())
