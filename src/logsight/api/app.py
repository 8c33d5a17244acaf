"""The FastAPI application: one router per resource under /api, OpenAPI at /api/docs."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from logsight import __version__
from logsight.api import errors
from logsight.api.routers import projects
from logsight.api.services import ApiServices
from logsight.config import Settings

ROUTERS = [projects.router]


def create_app(settings: Settings, services: ApiServices | None = None) -> FastAPI:
    app = FastAPI(
        title="LogSight API",
        version=__version__,
        description="Projects, keys, events, statistics and everything about who may see what.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.services = services or ApiServices(settings)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router, prefix="/api")

    @app.get("/docs", include_in_schema=False)
    def docs_redirect() -> RedirectResponse:
        return RedirectResponse("/api/docs")

    @app.get("/api/health", tags=["health"], summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
