"""Reading the app's own OpenAPI document to call every endpoint: operations, and minimal valid
requests whose identifying fields are filled with a chosen tenant's ids."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

# Identifying fields of a tenant; any parameter or body field with one of these names is filled
# with the tenant's value.
TENANT_FIELDS = ("organization_id", "project_id")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def params(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == where]

    @property
    def body_schema(self) -> dict[str, Any] | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        media = content.get("application/json")
        return media["schema"] if media else None

    @property
    def media_type(self) -> str | None:
        """The request body's media type (the first the operation takes), if it has a body."""
        return next(iter(self.spec.get("requestBody", {}).get("content", {})), None)

    @property
    def writes(self) -> bool:
        return self.method != "GET"


def operations(document: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method.upper(), path, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


class RequestBuilder:
    """Minimal valid requests for an operation: required fields only, plus every field that
    names a tenant's thing, filled from ``ids``."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.components = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def value(self, schema: dict[str, Any], name: str, ids: dict[str, Any]) -> Any:
        schema = self.resolve(schema)
        if name in ids:
            found = ids[name]
            return found if isinstance(found, int) else str(found)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                choices = [s for s in schema[key] if self.resolve(s).get("type") != "null"]
                return self.value(choices[0], name, ids)
        if "allOf" in schema:
            return self.value(schema["allOf"][0], name, ids)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        if "default" in schema:
            return schema["default"]
        kind = schema.get("type", "object")
        if kind == "object":
            return {
                prop: self.value(sub, prop, ids)
                for prop, sub in schema.get("properties", {}).items()
                if prop in schema.get("required", []) or prop in ids
            }
        if kind == "array":
            count = schema.get("minItems", 0)
            return [self.value(schema.get("items", {}), name, ids) for _ in range(count)]
        if kind == "integer":
            return max(schema.get("minimum", 1), 1)
        if kind == "number":
            return max(schema.get("minimum", 1.0), 1.0)
        if kind == "boolean":
            return False
        return self.string(schema)

    @staticmethod
    def string(schema: dict[str, Any]) -> str:
        fmt = schema.get("format")
        if fmt == "uuid":
            return str(uuid.uuid4())
        if fmt == "email":
            return f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        if fmt == "date-time":
            return (datetime.now(UTC) + timedelta(days=1)).isoformat()
        candidates = [
            f"isolation-{uuid.uuid4().hex[:8]}",
            f"nobody-{uuid.uuid4().hex[:8]}@example.com",
            "https://example.com",
            "0" * 40,  # a SHA-1 digest, as hex
            "x",
        ]
        pattern = schema.get("pattern")
        for candidate in candidates:
            if pattern is None or re.search(pattern, candidate):
                return candidate[: schema.get("maxLength", 200)].ljust(
                    schema.get("minLength", 0), "x"
                )
        return "x"

    def upload(self, operation: Operation) -> tuple[bytes, dict[str, str]] | None:
        """A body that is not JSON (a raw file, a multipart form) with its content type; None
        for JSON bodies and operations without one."""
        media = operation.media_type
        if media is None or media == "application/json":
            return None
        if media == "multipart/form-data":
            schema = self.resolve(operation.spec["requestBody"]["content"][media]["schema"])
            files = [(name, ("isolation", b"isolation")) for name in schema.get("required", [])]
            request = httpx.Request("POST", "http://localhost/", files=files)
            return request.read(), {"content-type": request.headers["content-type"]}
        return b"isolation", {"content-type": media}

    def path(self, operation: Operation, ids: dict[str, Any]) -> str:
        return re.sub(r"{(\w+)}", lambda m: str(ids[m.group(1)]), operation.path)

    def query(self, operation: Operation, ids: dict[str, Any]) -> str:
        pairs = [
            f"{p['name']}={self.value(p.get('schema', {}), p['name'], ids)}"
            for p in operation.params("query")
            if p.get("required") or p["name"] in ids
        ]
        return "&".join(pairs)

    def body(self, operation: Operation, ids: dict[str, Any]) -> Any:
        schema = operation.body_schema
        return None if schema is None else self.value(schema, "", ids)


@dataclass(frozen=True)
class Slot:
    """A place in a request that takes a value: a path or query parameter, or a body field
    (``keys`` is then its path in the body; 0 stands for an array's items)."""

    where: str  # "path", "query" or "body"
    keys: tuple[str | int, ...]
    kind: str  # "text", "integer", "time" or "cursor"

    @property
    def field(self) -> str:
        """The field name the API's errors give for it: ``query.q``, ``body.ids.0``."""
        return ".".join([self.where, *map(str, self.keys)])


# Not declared by any operation, read by some (event property filters): every route must cope.
UNDECLARED_QUERY = Slot("query", ("prop.x",), "text")


def slots(builder: RequestBuilder, operation: Operation) -> list[Slot]:
    """Every parameter and body field of ``operation`` that takes text, an integer or a time,
    plus an undeclared query parameter."""
    found = [UNDECLARED_QUERY]
    for param in operation.spec.get("parameters", []):
        if param["in"] in {"path", "query"}:
            found += _slots(builder, param.get("schema", {}), param["in"], (param["name"],))
    if operation.body_schema is not None:
        found += _slots(builder, operation.body_schema, "body", ())
    return found


def _slots(
    builder: RequestBuilder, schema: dict[str, Any], where: str, keys: tuple[str | int, ...]
) -> list[Slot]:
    schema = builder.resolve(schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            choices = [c for c in schema[key] if builder.resolve(c).get("type") != "null"]
            return _slots(builder, choices[0], where, keys) if choices else []
    kind = schema.get("type")
    if kind == "object":
        return [
            slot
            for name, sub in schema.get("properties", {}).items()
            for slot in _slots(builder, sub, where, (*keys, name))
        ]
    if kind == "array":
        # Query parameters repeat rather than nest: one value stands for the list.
        inner = keys if where == "query" else (*keys, 0)
        return _slots(builder, schema.get("items", {}), where, inner)
    if kind == "integer":
        return [Slot(where, keys, "integer")]
    if kind == "string":
        if keys == ("cursor",):
            return [Slot(where, keys, "cursor")]
        return [Slot(where, keys, "time" if schema.get("format") == "date-time" else "text")]
    return []
