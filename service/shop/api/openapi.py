"""The OpenAPI 3.1 document, generated from the route table and the handlers' declared types.

Schemas come from msgspec (`inputs.py`, `outputs.py`), so a bound or field changes in one place.
Path and query types become parameters; security schemes and shared headers are declared below,
so a new header or scheme is one entry here and one field on the routes that need it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from .. import __version__
from .endpoint import Route, Signature
from .inputs import Input, NoInput
from .outputs import Problem
from .problems import PROBLEM_JSON
from .responses import JSON

Schema = dict[str, Any]
REF = "#/components/schemas/{name}"

SECURITY_SCHEMES: Schema = {
    "admin": {"type": "http", "scheme": "bearer", "description": "the admin token"},
}
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
}
_STATUS_TEXT = {
    400: "Invalid input or a business rule refused the request",
    401: "Admin token missing",
    403: "Admin token wrong",
    404: "Not found",
    405: "Method not allowed",
    408: "The request did not arrive in time",
    409: "Conflict (duplicate, or the user's previous request still holds the lock)",
    413: "Request body too large",
    415: "The body is not JSON",
    431: "Request headers too large",
    500: "A bug: the body carries the trace id it was logged with",
    503: "A dependency is unavailable; nothing was written (except OUTCOME_UNKNOWN: the"
    " connection broke during commit, retry with the same Idempotency-Key)",
}
# Statuses every operation may answer whatever its own rules (limits enforced before routing,
# and a bug's 500, which is a problem+json too).
_ANY_REQUEST = (405, 408, 413, 431, 500)
_BODY_REQUEST = (400, 415)
# status -> (header, its component)
_HEADERS_OF = {
    405: ("Allow", "Allow"),
    409: ("Retry-After", "Retry-After-If-Busy"),
    503: ("Retry-After", "Retry-After"),
}


def _ref(name: str) -> Schema:
    return {"$ref": REF.format(name=name)}


def _problem(status: int) -> Schema:
    answer: Schema = {
        "description": _STATUS_TEXT[status],
        "content": {PROBLEM_JSON: {"schema": _ref(Problem.__name__)}},
    }
    if status in _HEADERS_OF:
        name, component = _HEADERS_OF[status]
        answer["headers"] = {name: {"$ref": f"#/components/headers/{component}"}}
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
        return [
            {"name": name, "in": where, "required": where == "path" or name in required}
            | {"schema": field}
            for name, field in schema["properties"].items()
        ]

    def schema(self, kind: Any) -> Schema:
        return dict(self.by_type[kind])

    def unused_inputs(self, routes: Iterable[Route]) -> set[str]:
        """Path and query types: they become parameters, not components."""
        names = set()
        for route in routes:
            s = self.signatures[id(route)]
            names |= {s.path.__name__, s.query.__name__}
        return names


def _operation(route: Route, schemas: _Schemas) -> Schema:
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
    errors = set(route.errors) | set(_ANY_REQUEST)
    if s.body is not NoInput:
        errors |= set(_BODY_REQUEST)
    if s.path is not NoInput or s.query is not NoInput:
        errors.add(400)
    if route.admin:
        errors |= {401, 403}
    for status in sorted(errors):
        responses.setdefault(str(status), _problem(status))
    operation: Schema = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.tag}.{route.handler.__name__}",
        "parameters": schemas.parameters(s.path, "path") + schemas.parameters(s.query, "query"),
        "responses": responses,
    }
    if s.body is not NoInput:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": schemas.schema(s.body)}},
        }
    if route.admin:
        operation["security"] = [{"admin": []}]
    return operation


def build_document(routes: Iterable[Route]) -> Schema:
    """The whole OpenAPI 3.1 document for the given routes."""
    routes = tuple(routes)
    schemas = _Schemas(routes)
    paths: dict[str, Schema] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
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
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
