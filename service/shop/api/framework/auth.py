"""User authentication (SHOP_AUTH=required): bearer tokens, and each user on their own data.

Routes marked `user=True` in the route table need a valid token before anything else is
read; once decoded, the user the request acts on (its path, query or body `userId`, or what
the handler names with `act_as`) must be the token's, or it is refused with 403. With
SHOP_AUTH=off both let everything through (trusted load-test runs).
"""

from __future__ import annotations

import time

from aiohttp import web

from ...auth.tokens import InvalidToken
from ...domain.errors import AuthenticationRequired, NotYourResource
from ...keys import KEYRING, PRINCIPAL, SETTINGS


def _required(request: web.Request) -> bool:
    return request.app[SETTINGS].auth == "required"


def authenticate(request: web.Request) -> str:
    """The user the request's bearer token names; 401 without a valid one (verified once)."""
    verified: str | None = request.get(PRINCIPAL)
    if verified is not None:
        return verified
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationRequired("this endpoint needs 'Authorization: Bearer <user token>'")
    try:
        principal = request.app[KEYRING].verify(token.strip(), now=time.time()).user_id
    except InvalidToken as exc:
        raise AuthenticationRequired(f"the bearer token is not valid: {exc}") from None
    request[PRINCIPAL] = principal
    return principal


def act_as(request: web.Request, user_id: str) -> str:
    """Declare the user the request acts on; 403 when the token belongs to someone else."""
    if _required(request):
        principal = request.get(PRINCIPAL) or authenticate(request)
        if principal != user_id:
            raise NotYourResource("the bearer token belongs to another user")
    return user_id
