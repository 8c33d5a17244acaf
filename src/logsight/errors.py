"""The one error shape LogSight returns: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error meant for the client: status code, machine-readable code, message, field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        extra: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error, **dict(self.extra)}
