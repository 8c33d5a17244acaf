"""The one error shape LogSight returns: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ApiError(Exception):
    status: int
    code: str
    message: str
    field: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error, **dict(self.extra)}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return ApiError(0, code, message, field).body()
