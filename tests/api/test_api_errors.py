"""The API's error responses are ApiError.body(): the one error shape, with what an error adds
to it (``extra``) kept, whichever handler answers."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from logsight.api.errors import install
from logsight.errors import ApiError

REFUSED = ApiError(
    429,
    "rate_limited",
    "too many events",
    headers=(("retry-after", "7"),),
    extra=(("quota", "events_per_minute"), ("limit", 10), ("retry_after", 7)),
)


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install(app)

    @app.get("/fails")
    def fails() -> None:
        raise error

    return app


def call(app: FastAPI, method: str = "GET") -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.request(method, "/fails")

    return asyncio.run(send())


def test_an_api_error_answers_its_body_with_extra_and_headers() -> None:
    reply = call(app_raising(REFUSED))
    assert reply.status_code == 429
    assert reply.json() == REFUSED.body()
    assert reply.json()["limit"] == 10
    assert reply.headers["retry-after"] == "7"


def test_a_field_is_named_and_omitted_without_one() -> None:
    named = app_raising(ApiError(400, "invalid_cursor", "cursor is not valid", "cursor"))
    assert call(named).json() == {
        "error": {"code": "invalid_cursor", "message": "cursor is not valid", "field": "cursor"}
    }
    unnamed = call(app_raising(RuntimeError("boom")))
    assert unnamed.status_code == 500
    assert unnamed.json() == {
        "error": {"code": "internal_error", "message": "internal server error"}
    }


def test_routing_errors_keep_the_shape() -> None:
    reply = call(app_raising(REFUSED), "POST")
    assert reply.status_code == 405
    assert reply.json()["error"]["code"] == "method_not_allowed"
