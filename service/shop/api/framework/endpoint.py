"""One endpoint = one route entry + one typed handler; the types are read from the handler.

A handler is `async def verb(call: Call[PathT, QueryT, BodyT]) -> Answer`: the router decodes
the path, query and body into those types before calling it and encodes what it returns, and the
OpenAPI document is generated from the same annotations, so each shape is written exactly once.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from ...domain.rate_limits import ADDRESS, USER
from ...keys import DEPS
from ...use_cases.deps import Deps
from ...use_cases.seals import KeyedRequest
from ..types.inputs import Input, NoInput
from .auth import act_as, authenticate
from .decoding import decode_body, decode_params
from .idempotency import HEADER, answer_once, keyed_request, replay_headers
from .responses import json_response

P = TypeVar("P", bound=Input)
Q = TypeVar("Q", bound=Input)
B = TypeVar("B", bound=Input)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call(Generic[P, Q, B]):
    """A decoded request: its path, query and body as declared types."""

    request: web.Request
    path: P
    query: Q
    body: B
    # The request's Idempotency-Key, on a route that honours one.
    keyed: KeyedRequest | None = None

    @property
    def deps(self) -> Deps:
        return self.request.app[DEPS]

    async def once(self, effect: Callable[..., Awaitable[T]], result_type: type[T]) -> T:
        """Run the use case `effect(seal=...)`; with an Idempotency-Key, at most once per key
        (a retry gets the first result, or has the first refusal raised again)."""
        if self.keyed is None:
            return await effect(seal=None)
        return await answer_once(
            self.request, self.keyed, lambda seal: effect(seal=seal), result_type
        )


TypedHandler = Callable[[Call[Any, Any, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Signature:
    """What a typed handler declares: its input types and what it answers."""

    path: type[Input]
    query: type[Input]
    body: type[Input]
    answer: Any  # an Output type, a list of one, or web.StreamResponse (answers itself)

    @classmethod
    def of(cls, handler: TypedHandler) -> Signature:
        hints = typing.get_type_hints(handler)
        call = next(hint for name, hint in hints.items() if name != "return")
        path, query, body = typing.get_args(call)
        return cls(path, query, body, hints["return"])

    @property
    def raw(self) -> bool:
        """True when the handler builds its own response (metrics, readiness)."""
        return isinstance(self.answer, type) and issubclass(self.answer, web.StreamResponse)


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: where it lives, what it does, and what else it may answer."""

    method: str
    path: str
    handler: TypedHandler
    summary: str
    tag: str
    status: int = 200
    errors: tuple[int, ...] = ()
    # Admin routes: the scope of admin credential they need (auth/admins.py).
    scope: str = ""
    # In production this route needs an admin credential of this scope instead of the user's
    # token (a balance charge: the payment service's `charges`).
    prod_scope: str = ""
    # Not for the public (the scraper's /metrics): with SHOP_ADMIN_PORT, served there only, as
    # are the admin routes.
    private: bool = False
    # Acts on one user's data: with SHOP_AUTH=required, only that user's token may.
    user: bool = False
    # Honours `Idempotency-Key` (its handler runs the use case through `Call.once`).
    idempotent: bool = False
    # Request headers it reads, by name in openapi.HEADER_PARAMETERS.
    headers: tuple[str, ...] = ()
    # Answers that are not JSON of the declared type: media type -> JSON Schema.
    content: Mapping[str, Mapping[str, object]] | None = None
    # For raw handlers, the type their JSON body has (per status).
    documented: Mapping[int, type[msgspec.Struct]] = field(default_factory=dict)
    # OpenAPI links from the success answer: name -> {"operationId": ..., "parameters": ...},
    # so a client (or a stateful fuzzer) knows which answer feeds which request.
    links: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    @property
    def signature(self) -> Signature:
        return Signature.of(self.handler)

    @property
    def admin(self) -> bool:
        return bool(self.scope)

    @property
    def on_admin_listener(self) -> bool:
        """Served on SHOP_ADMIN_PORT alone when there is one."""
        return self.admin or self.private

    @property
    def limited_by(self) -> str:
        """Whose budget a request spends (rate_limits.py): "user", "address", or "" for none
        (probes and the scraper must always get through; admins hold the admin token)."""
        if self.admin or self.tag == "operations":
            return ""
        return USER if self.user else ADDRESS


def bind(route: Route, *, user_auth: bool = False) -> Handler:
    """The aiohttp handler of a route: check the user's token (`user_auth`, before anything
    is read), decode, bind the user to the log context, call, encode."""
    signature = route.signature
    handler = route.handler
    raw, status = signature.raw, route.status
    path_type, query_type, body_type = signature.path, signature.query, signature.body

    @functools.wraps(handler)
    async def endpoint(request: web.Request) -> web.StreamResponse:
        if user_auth:
            authenticate(request)
        path = decode_params(request.match_info, path_type, where="path")
        # request.query parses the query string: only for endpoints that take one.
        query = (
            NoInput()
            if query_type is NoInput
            else decode_params(request.query, query_type, where="query")
        )
        user_id = _user_of(path, query)
        if user_id is not None:  # bound before the body: its errors are logged with it
            structlog.contextvars.bind_contextvars(user_id=user_id)
        body = await decode_body(request, body_type)
        if user_id is None and (user_id := _user_of(body)) is not None:
            structlog.contextvars.bind_contextvars(user_id=user_id)
        if user_id is not None and user_auth:
            act_as(request, user_id)
        keyed = None
        if route.idempotent and user_id is not None and HEADER in request.headers:
            keyed = await keyed_request(request, user_id)
        answer = await handler(Call(request, path, query, body, keyed))
        if raw:
            return typing.cast(web.StreamResponse, answer)
        return json_response(
            answer, status=status, headers=None if keyed is None else replay_headers(request)
        )

    return endpoint


def _user_of(*inputs: Input) -> str | None:
    """The user a request acts for: the first input naming one."""
    for given in inputs:
        user_id = getattr(given, "user_id", None)
        if isinstance(user_id, str):
            return user_id
    return None


__all__ = ["B", "Call", "NoInput", "P", "Q", "Route", "Signature", "bind"]
