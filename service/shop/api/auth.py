"""User authentication (SHOP_AUTH=required): bearer tokens, and each user on their own data.

Routes marked `user=True` in the route table need a valid token before anything else is
read; handlers then name the user the request acts on with `act_as`, which refuses any other
user with 403. With SHOP_AUTH=off both let everything through (trusted load-test runs).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiohttp import web

from ..auth.tokens import InvalidToken, TokenSigner
from ..domain.errors import AuthenticationRequired, NotYourResource
from ..keys import PRINCIPAL, SETTINGS, USER_ID
from ..settings import MAX_TOKEN_TTL
from .admin import Handler
from .parsing import body_fields
from .responses import json_response


def _required(request: web.Request) -> bool:
    return request.app[SETTINGS].auth == "required"


def authenticate(request: web.Request) -> str:
    """The user the request's bearer token names; 401 without a valid one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationRequired("this endpoint needs 'Authorization: Bearer <user token>'")
    signer = TokenSigner.from_secret(request.app[SETTINGS].auth_secret)
    try:
        principal = signer.verify(token.strip(), now=time.time())
    except InvalidToken as exc:
        raise AuthenticationRequired(f"the bearer token is not valid: {exc}") from None
    request[PRINCIPAL] = principal
    return principal


def user_only(handler: Handler) -> Handler:
    """With SHOP_AUTH=required, let the request in only with a valid user token."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if _required(request):
            authenticate(request)
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


def act_as(request: web.Request, user_id: str) -> str:
    """Declare the user the request acts on; 403 when the token belongs to someone else."""
    request[USER_ID] = user_id
    if _required(request):
        principal = request.get(PRINCIPAL) or authenticate(request)
        if principal != user_id:
            raise NotYourResource("the bearer token belongs to another user")
    return user_id


async def mint(request: web.Request) -> web.Response:
    """Admin: a token for one user."""
    body = await body_fields(request)
    settings = request.app[SETTINGS]
    user_id = body.text("userId")
    ttl = body.optional_integer(
        "ttlSeconds", minimum=1, maximum=MAX_TOKEN_TTL, default=settings.token_ttl
    )
    expires_at = int(time.time()) + ttl
    token = TokenSigner.from_secret(settings.auth_secret).mint(user_id, expires_at=expires_at)
    return json_response(
        {
            "token": token,
            "userId": user_id,
            "expiresAt": datetime.fromtimestamp(expires_at, UTC).isoformat(),
        },
        status=201,
    )
