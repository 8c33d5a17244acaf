"""The interactive API docs, served whole by LogSight: the page and Swagger UI's script and
style sheet, so /api/docs works without internet (FastAPI's default page loads them from a CDN).

The files come from Powertools (a pinned dependency of every function), which carries Swagger
UI 5's bundle for its own event handler; only the api function's package keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

ASSET_PACKAGE = "aws_lambda_powertools.event_handler.openapi.swagger_ui"
ASSETS = {
    "swagger-ui-bundle.js": ("swagger-ui-bundle.min.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui.min.css", "text/css; charset=utf-8"),
}
ASSET_PATH = "/api/docs/assets"
# The files change only with the Powertools version, which changes the function's code too.
ASSET_CACHE = "public, max-age=86400"
# No icon request at all: the browser would otherwise ask the site root for /favicon.ico.
NO_FAVICON = "data:,"


@cache
def _asset(name: str) -> bytes:
    filename, _ = ASSETS[name]
    return (resources.files(ASSET_PACKAGE) / filename).read_bytes()


def install(app: FastAPI, docs_url: str, openapi_url: str) -> None:
    """Serve the docs page at ``docs_url`` (the app must be built with ``docs_url=None``)."""

    @app.get(docs_url, include_in_schema=False)
    def docs_page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSET_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSET_PATH}/swagger-ui.css",
            swagger_favicon_url=NO_FAVICON,
        )

    for name in ASSETS:
        app.add_api_route(
            f"{ASSET_PATH}/{name}", _serve(name), methods=["GET"], include_in_schema=False
        )


def _serve(name: str) -> Callable[[], Response]:
    def asset() -> Response:
        return Response(
            _asset(name), media_type=ASSETS[name][1], headers={"cache-control": ASSET_CACHE}
        )

    return asset
