"""Every answer checked against the served OpenAPI document: status, media type, body, headers."""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator

Document = dict[str, Any]


class ContractViolation(AssertionError):
    """An answer the OpenAPI document does not describe."""


class Contract:
    def __init__(self, document: Document) -> None:
        self.document = document
        self._paths: list[tuple[re.Pattern[str], str]] = []
        # Literal paths first, so /api/products/popular is not read as /api/products/{productId}.
        for template in sorted(document["paths"], key=lambda p: p.count("{")):
            pattern = re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template))
            self._paths.append((re.compile(pattern + "$"), template))

    def template(self, path: str) -> str | None:
        return next((t for pattern, t in self._paths if pattern.match(path)), None)

    def check(self, method: str, path: str, status: int, headers: Any, body: bytes) -> None:
        """Raise ContractViolation unless the document describes this answer."""
        template = self.template(path)
        where = f"{method} {path} -> {status}"
        if template is None:
            if status != 404:
                raise ContractViolation(f"{where}: undocumented path answered other than 404")
            self._schema(where, {"$ref": "#/components/schemas/Problem"}, body)
            return
        operation = self.document["paths"][template].get(method.lower())
        if operation is None:
            if method == "HEAD" and "get" in self.document["paths"][template]:
                operation = self.document["paths"][template]["get"]
            else:
                if status != 405 or "Allow" not in headers:
                    raise ContractViolation(f"{where}: undocumented method without 405 + Allow")
                self._schema(where, {"$ref": "#/components/schemas/Problem"}, body)
                return
        answer = operation["responses"].get(str(status))
        if answer is None:
            raise ContractViolation(f"{where}: status not documented for {template}")
        for name, header in answer.get("headers", {}).items():
            if "$ref" in header:
                header = self.document["components"]["headers"][header["$ref"].split("/")[-1]]
            if header.get("required") and name not in headers:
                raise ContractViolation(f"{where}: documented header {name} missing")
        content = answer.get("content", {})
        media = headers.get("Content-Type", "").split(";")[0].strip()
        if media not in content:
            raise ContractViolation(f"{where}: media type {media!r} not in {sorted(content)}")
        schema = content[media].get("schema")
        if schema is not None and media.endswith("json") and method != "HEAD":
            self._schema(where, schema, body)

    def _schema(self, where: str, schema: dict[str, Any], body: bytes) -> None:
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise ContractViolation(f"{where}: body is not JSON: {exc}") from None
        rooted = {**schema, "components": self.document["components"]}
        errors = sorted(Draft202012Validator(rooted).iter_errors(value), key=str)
        if errors:
            raise ContractViolation(f"{where}: {errors[0].message} at {list(errors[0].path)}")
