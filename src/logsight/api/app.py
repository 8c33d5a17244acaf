"""The FastAPI application: one router per resource under /api, OpenAPI at /api/docs."""

from __future__ import annotations

import orjson
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse

from logsight import __version__
from logsight.api import docs, errors, storable
from logsight.api.routers import (
    alerts,
    audit,
    auth,
    dashboards,
    dead_letter_replay,
    dead_letters,
    events,
    impact,
    ingest_health,
    issues,
    keys,
    live,
    logs,
    members,
    organizations,
    privacy,
    projects,
    quotas,
    sentry_artifacts,
    sourcemaps,
    stats,
    tokens,
    users,
    wellknown,
)
from logsight.api.services import ApiServices
from logsight.config import Settings

DOCS_URL = "/api/docs"

# Mounted under /api; wellknown serves /.well-known at the root.
ROUTERS = [
    auth.router,
    users.router,
    organizations.router,
    members.router,
    projects.router,
    quotas.router,
    keys.router,
    sourcemaps.router,
    sentry_artifacts.router,
    tokens.router,
    audit.router,
    events.router,
    issues.router,
    impact.router,
    stats.router,
    dashboards.router,
    live.router,
    logs.router,
    dead_letters.router,
    dead_letter_replay.router,
    ingest_health.router,
    alerts.router,
    privacy.router,
]


def create_app(settings: Settings, services: ApiServices | None = None) -> FastAPI:
    app = FastAPI(
        title="LogSight API",
        version=__version__,
        description="Projects, keys, events, statistics and everything about who may see what.",
        # Served by logsight.api.docs from packaged files, not from a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        # Every route, those added later too: text PostgreSQL cannot store is a 422.
        dependencies=[Depends(storable.check_text)],
        responses={422: errors.ERROR_RESPONSES[422]},
        # Starlette builds slash redirects from the request's Host header, which the client
        # chooses: an API spoken by generated clients needs no such redirects at all.
        redirect_slashes=False,
    )
    app.state.services = services or ApiServices(settings)
    errors.install(app)
    docs.install(app, DOCS_URL, "/api/openapi.json")
    for router in ROUTERS:
        app.include_router(router, prefix="/api")
    app.include_router(wellknown.router)
    if settings.allowed_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origin_list,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["authorization", "content-type"],
            max_age=3600,
        )

    @app.get("/docs", include_in_schema=False)
    def docs_redirect() -> RedirectResponse:
        # A path, never an absolute URL: the browser resolves it against the site it asked.
        return RedirectResponse(DOCS_URL)

    @app.get("/api/health", tags=["health"], summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def openapi_json() -> bytes:
    """The OpenAPI document as the dashboard's client generator reads it (keys sorted, so the
    generated types only change when the API does). Needs no database or server."""
    document = create_app(Settings()).openapi()
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
