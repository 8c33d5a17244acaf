"""The one error shape for every API response, documented in the OpenAPI schema."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from logsight.errors import ApiError
from logsight.storage.faults import is_transient

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def _response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=dict(error.headers))


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return _response(ApiError(status, code, message, field))


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(part) for part in first.get("loc", ())]
        # "body.name", "query.limit": where the fault is, as the client sent it.
        return _error(422, "invalid_field", str(first.get("msg")), ".".join(loc) or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        headers = tuple((getattr(exc, "headers", None) or {}).items())
        return _response(ApiError(exc.status_code, code, str(exc.detail), headers=headers))

    @app.exception_handler(psycopg.DataError)
    async def data_error(request: Request, exc: psycopg.DataError) -> JSONResponse:
        # The last resort: a value the database cannot store or compare got past the checks
        # where requests come in. Logged as a warning, since the check that missed it is a bug.
        log.warning(
            "value refused by the database on %s %s",
            request.method,
            request.url.path,
            exc_info=exc,
        )
        return _error(400, "invalid_value", "a value in the request cannot be stored")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal_error", "internal server error")

    @app.exception_handler(psycopg.Error)
    async def database_error(request: Request, exc: psycopg.Error) -> JSONResponse:
        if not is_transient(exc):
            return await unexpected(request, exc)
        # Down, restarting or out of connections: the client may try again shortly.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        retry_after = str(request.app.state.services.settings.retry_after_seconds)
        return _response(
            ApiError(
                503,
                "database_unavailable",
                "the database is unavailable; try again shortly",
                headers=(("retry-after", retry_after),),
            )
        )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Bad request",
        401: "Missing or invalid credentials",
        403: "Not allowed for this role or token",
        404: "Not found (or not visible to you)",
        409: "Conflict",
        422: "Invalid field",
        429: "Too many attempts",
        503: "The database is unavailable (Retry-After says when to try again)",
    }.items()
}
