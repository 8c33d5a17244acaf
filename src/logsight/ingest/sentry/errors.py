"""Errors the way Sentry SDKs expect them: ``{"detail": ...}`` and an ``X-Sentry-Error`` header."""

from __future__ import annotations

from logsight.apigw import HttpResponse
from logsight.errors import ApiError


class SentryError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}

    @classmethod
    def from_api_error(cls, error: ApiError) -> SentryError:
        return cls(error.status, error.message, dict(error.headers))

    def response(self) -> HttpResponse:
        return HttpResponse(
            self.status, {"detail": self.detail}, {"x-sentry-error": self.detail, **self.headers}
        )
