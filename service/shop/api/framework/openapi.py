"""The OpenAPI 3.1 document, generated from the route table and the handlers' declared types.

Schemas come from msgspec (`inputs.py`, `outputs.py`), so a bound or field changes in one place.
Path and query types become parameters. Security schemes, request headers and answer headers are
declared below: a new one is one entry here and one field on the routes that use it (`admin`,
`headers`), e.g. an `Idempotency-Key` in HEADER_PARAMETERS and `headers=("Idempotency-Key",)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from ... import __version__
from ...domain.idempotency import MAX_KEY_LENGTH
from ..types.inputs import Input, NoInput
from ..types.outputs import Problem
from .endpoint import Route, Signature
from .problems import PROBLEM_JSON
from .responses import JSON

Schema = dict[str, Any]
REF = "#/components/schemas/{name}"

SECURITY_SCHEMES: Schema = {
    "admin": {"type": "http", "scheme": "bearer", "description": "the admin token"},
    "user": {
        "type": "http",
        "scheme": "bearer",
        "description": "a user token (POST /api/admin/tokens, `python -m shop token USER_ID`);"
        " required when SHOP_AUTH=required",
    },
}
# The request header of idempotent operations (docs/api.md, Idempotent retries).
IDEMPOTENCY_KEY: Schema = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a retry with the same key and body gets the first answer and has no"
    " second effect, for 24 hours",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": "^[!-~]+$",
    },
}
# Request headers an operation may read, named by the routes that read them (Route.headers).
HEADER_PARAMETERS: Schema = {"Idempotency-Key": IDEMPOTENCY_KEY}
# Headers answers may carry, referenced by the statuses that send them.
_RETRY_AFTER: Schema = {
    "description": "seconds after which a retry may succeed",
    "schema": {"type": "integer", "minimum": 0},
}
HEADERS: Schema = {
    # Every 503 says when to come back; a 409 does only when the lock was busy (LOCK001).
    "Retry-After": _RETRY_AFTER | {"required": True},
    "Retry-After-If-Busy": _RETRY_AFTER,
    "Allow": {
        "description": "the methods this path serves",
        "required": True,
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": "the scheme a 401 asks for",
        "required": True,
        "schema": {"type": "string"},
    },
    # draft-ietf-httpapi-ratelimit-headers: the client's policy and what is left of it.
    "RateLimit-Policy": {
        "description": 'the limit this answer was counted under: `"<user|address>";q=<requests'
        " at once>;w=<seconds to earn them back>`",
        "required": True,
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'what is left: `"<policy>";r=<requests left>;t=<seconds until all are'
        " back>`",
        "required": True,
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer of an earlier request with the"
        " same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
_STATUS_TEXT = {
    400: "Invalid input or a business rule refused the request",
    401: "Bearer token missing or not valid",
    403: "Wrong admin token, or another user's resource",
    404: "Not found",
    405: "Method not allowed",
    408: "The request did not arrive in time",
    409: "Conflict (duplicate, the user's previous request still holds the lock, or a request"
    " with the same Idempotency-Key is in progress)",
    413: "Request body too large",
    415: "The body is not JSON",
    422: "The Idempotency-Key was first used with another request",
    429: "Over this client's limit (per user, or per address without a user): retry after"
    " Retry-After seconds",
    431: "Request headers too large",
    500: "A bug: the body carries the trace id it was logged with",
    503: "Over capacity (OVERLOADED: refused before any work) or a dependency is unavailable;"
    " nothing was written (except OUTCOME_UNKNOWN: the connection broke during commit, retry"
    " with the same Idempotency-Key)",
}
# Statuses every operation may answer whatever its own rules (limits enforced before routing,
# and a bug's 500, which is a problem+json too).
_ANY_REQUEST = (405, 408, 413, 431, 500)
OPERATIONS = "operations"
_BODY_REQUEST = (400, 415)
_EMPTY: Schema = {"type": "string", "maxLength": 0}
# status -> its headers, as (header, its component)
_HEADERS_OF = {
    401: (("WWW-Authenticate", "WWW-Authenticate"),),
    405: (("Allow", "Allow"),),
    409: (("Retry-After", "Retry-After-If-Busy"),),
    429: (
        ("Retry-After", "Retry-After"),
        ("RateLimit-Policy", "RateLimit-Policy"),
        ("RateLimit", "RateLimit"),
    ),
    503: (("Retry-After", "Retry-After"),),
}


def _ref(name: str) -> Schema:
    return {"$ref": REF.format(name=name)}


def _problem(status: int) -> Schema:
    answer: Schema = {
        "description": _STATUS_TEXT[status],
        "content": {PROBLEM_JSON: {"schema": _ref(Problem.__name__)}},
    }
    if status in _HEADERS_OF:
        answer["headers"] = {
            name: {"$ref": f"#/components/headers/{component}"}
            for name, component in _HEADERS_OF[status]
        }
    return answer


class _Schemas:
    """Every type's JSON Schema, generated together so shared types are components once."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.signatures = {id(r): r.signature for r in routes}
        types: list[Any] = [Problem]
        for route in routes:
            s = self.signatures[id(route)]
            types += [s.path, s.query, s.body, *route.documented.values()]
            if not s.raw:
                types.append(s.answer)
        self.top, self.components = msgspec.json.schema_components(types, ref_template=REF)
        self.by_type = dict(zip(types, self.top, strict=True))
        for kind in types:
            if isinstance(kind, type) and issubclass(kind, Input):
                schema = self.components.get(kind.__name__)
                if schema is not None and kind.json_schema_extra:
                    schema.update(kind.json_schema_extra)

    def parameters(self, kind: type[Input], where: str) -> list[Schema]:
        if kind is NoInput:
            return []
        schema = self.components[kind.__name__]
        required = set(schema.get("required", ()))
        found = []
        for name, field in schema["properties"].items():
            needed = where == "path" or name in required
            if not needed:  # `?limit=` is the same as no `limit` at all: the default applies
                field = {"anyOf": [field, _EMPTY]}
            found.append({"name": name, "in": where, "required": needed, "schema": field})
        return found

    def schema(self, kind: Any) -> Schema:
        return dict(self.by_type[kind])

    def unused_inputs(self, routes: Iterable[Route]) -> set[str]:
        """Path and query types: they become parameters, not components."""
        names = set()
        for route in routes:
            s = self.signatures[id(route)]
            names |= {s.path.__name__, s.query.__name__}
        return names


def _headers(route: Route) -> tuple[str, ...]:
    """The request headers `route` reads: its own, and the key of an idempotent operation."""
    return (*route.headers, "Idempotency-Key") if route.idempotent else route.headers


def _operation(route: Route, schemas: _Schemas, *, user_auth: bool) -> Schema:
    s: Signature = schemas.signatures[id(route)]
    responses: Schema = {}
    if route.content is not None:
        content = {media: {"schema": dict(schema)} for media, schema in route.content.items()}
        responses[str(route.status)] = {"description": "Success", "content": content}
    for status, kind in route.documented.items():
        responses[str(status)] = {
            "description": "Success" if status < 400 else _STATUS_TEXT[status],
            "content": {JSON: {"schema": schemas.schema(kind)}},
        }
    if not s.raw:
        responses[str(route.status)] = {
            "description": "Success",
            "content": {JSON: {"schema": schemas.schema(s.answer)}},
        }
    if route.links:
        responses[str(route.status)]["links"] = {
            name: dict(link) for name, link in route.links.items()
        }
    errors = set(route.errors) | set(_ANY_REQUEST)
    if s.body is not NoInput:
        errors |= set(_BODY_REQUEST)
    if s.path is not NoInput or s.query is not NoInput:
        errors.add(400)
    if route.admin or route.prod_scope or (route.user and user_auth):
        errors |= {401, 403}
    if route.idempotent:
        errors |= {409, 422}
        responses[str(route.status)]["headers"] = {
            "Idempotent-Replayed": {"$ref": "#/components/headers/Idempotent-Replayed"}
        }
    if route.tag != OPERATIONS:  # everything else reads or writes the database (DB001)
        errors.add(503)
    if route.limited_by:
        errors.add(429)
    if route.on_admin_listener:  # on the API port when SHOP_ADMIN_PORT is set
        errors.add(404)
    for status in sorted(errors):
        responses.setdefault(str(status), _problem(status))
    operation: Schema = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.tag}.{route.handler.__name__}",
        "parameters": schemas.parameters(s.path, "path")
        + schemas.parameters(s.query, "query")
        + [{"$ref": f"#/components/parameters/{name}"} for name in _headers(route)],
        "responses": responses,
    }
    if s.body is not NoInput:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": schemas.schema(s.body)}},
        }
    if route.admin:
        operation["security"] = [{"admin": []}]
    elif route.user and user_auth:
        operation["security"] = [{"user": []}]
    return operation


def build_document(routes: Iterable[Route], *, user_auth: bool = False) -> Schema:
    """The whole OpenAPI 3.1 document; `user_auth` when SHOP_AUTH=required."""
    routes = tuple(routes)
    schemas = _Schemas(routes)
    paths: dict[str, Schema] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, schemas, user_auth=user_auth
        )
    components = {
        name: schema
        for name, schema in schemas.components.items()
        if name not in schemas.unused_inputs(routes)
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "shop", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "headers": HEADERS,
            "parameters": HEADER_PARAMETERS,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
