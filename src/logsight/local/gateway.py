"""The local API Gateway: HTTP requests → payload 2.0 events → the same Lambda handlers.

Handlers run in a thread pool whose size plays the part of Lambda's concurrent execution
environments; a request that outlives its function's timeout gets 504, as on AWS.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from logsight.errors import ApiError
from logsight.ingest.service import SENTRY_ROUTE
from logsight.local import dashboard
from logsight.local.context import LocalContext
from logsight.local.functions import API, INGEST, FunctionSpec, Handler
from logsight.local.payloads import http_api_event

if TYPE_CHECKING:
    from logsight.local.http_limits import ConnectionLimits

log = logging.getLogger(__name__)

# API Gateway HTTP APIs refuse larger payloads before any function runs.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024

# The browser snippet, built by `make sdk` into sdk/dist/ (on AWS it sits next to the dashboard).
SDK_DIST = Path(__file__).resolve().parents[3] / "sdk" / "dist"
SDK_FILES = {"/sdk/logsight.js": "logsight.js", "/sdk/logsight.mjs": "logsight.mjs"}

# Set-Cookie values travel in the headers dict under this key, newline-separated (a newline
# cannot occur in a header value).
COOKIES = "\nset-cookie"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _json(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = orjson.dumps(ApiError(status, code, message).body())
    return status, {"content-type": "application/json"}, body


def _environment_thread() -> None:
    # A Lambda environment runs its handler on a main thread that has an event loop; Mangum
    # relies on that (asyncio.get_event_loop), so each worker thread gets its own.
    asyncio.set_event_loop(asyncio.new_event_loop())


class Route:
    """A path prefix (or a regular expression) served by one function."""

    def __init__(self, prefix: str, spec: FunctionSpec, pattern: str | None = None) -> None:
        self.prefix = prefix
        self.spec = spec
        self.pattern = re.compile(pattern) if pattern else None
        self._handler: Handler | None = None

    def matches(self, path: str) -> bool:
        if self.pattern is not None:
            return self.pattern.match(path) is not None
        return path == self.prefix.rstrip("/") or path.startswith(self.prefix)

    @property
    def handler(self) -> Handler:
        if self._handler is None:
            self._handler = self.spec.load()
        return self._handler


class Gateway:
    def __init__(self, routes: list[Route], workers: int, site: Path = dashboard.WEB_DIST) -> None:
        self.routes = routes
        self.site = site
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="lambda", initializer=_environment_thread
        )

    def route_for(self, path: str) -> Route | None:
        return next((r for r in self.routes if r.matches(path)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        status, headers, body = await self._respond(scope, receive)
        # Payload 2.0 returns cookies apart from the headers, one Set-Cookie each.
        cookies = headers.pop(COOKIES, "")
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        raw += [(b"set-cookie", c.encode()) for c in cookies.split("\n") if c]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_PAYLOAD_BYTES:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _respond(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, str], bytes]:
        path: str = scope["path"]
        if path == "/health":
            return 200, {"content-type": "application/json"}, b'{"status":"ok"}'
        if path in SDK_FILES:
            return _sdk_file(SDK_FILES[path])
        route = self.route_for(path)
        if route is None:
            if scope["method"] in ("GET", "HEAD"):
                return await asyncio.to_thread(dashboard.serve, path, self.site)
            return _json(404, "not_found", f"no route for {path}")
        body = await self._read_body(receive)
        if body is None:
            return _json(413, "payload_too_large", "request body exceeds 10 MiB")
        client = scope.get("client") or ("127.0.0.1", 0)
        event = http_api_event(
            method=scope["method"],
            path=path,
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=[
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, v in scope["headers"]
                if k.lower() != b"x-forwarded-proto"
            ]
            # As API Gateway does: the scheme the client really used (Secure cookies need it).
            + [("x-forwarded-proto", scope.get("scheme", "http"))],
            body=body,
            source_ip=client[0],
        )
        context = LocalContext(route.spec.name, route.spec.timeout_seconds)
        loop = asyncio.get_running_loop()
        try:
            result = await asyncio.wait_for(
                loop.run_in_executor(self._pool, route.handler, event, context),
                timeout=route.spec.timeout_seconds,
            )
        except TimeoutError:
            return _json(504, "timeout", f"{route.spec.name} timed out")
        except Exception:
            log.exception("%s failed", route.spec.name)
            return _json(500, "internal_error", "Internal Server Error")
        return _to_http(result)


def _sdk_file(name: str) -> tuple[int, dict[str, str], bytes]:
    try:
        body = (SDK_DIST / name).read_bytes()
    except FileNotFoundError:
        return _json(404, "not_found", f"{name} is not built: run `make sdk`")
    headers = {
        "content-type": "text/javascript; charset=utf-8",
        # The URL carries no version: browsers may reuse it briefly, then must ask again.
        "cache-control": "public, max-age=300",
        # Any site may load it, and ES modules are fetched with CORS.
        "access-control-allow-origin": "*",
    }
    return 200, headers, body


def _to_http(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Interpret a handler result the way API Gateway's payload 2.0 integration does."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"content-type": "application/json"}, orjson.dumps(result)
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ", ".join(map(str, values))
    if result.get("cookies"):
        headers[COOKIES] = "\n".join(map(str, result["cookies"]))
    raw = result.get("body") or ""
    if result.get("isBase64Encoded"):
        body = base64.b64decode(raw)
    else:
        body = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    return int(result["statusCode"]), headers, body


def default_routes() -> list[Route]:
    return [
        # Sentry SDKs post to [/prefix]/api/<project>/envelope/ (or store/): the ingest function.
        Route("/api/", INGEST, SENTRY_ROUTE.pattern),
        Route("/v1/", INGEST),
        Route("/api/", API),
        Route("/docs", API),
        Route("/.well-known/", API),
    ]


def serve(host: str, port: int, workers: int, limits: ConnectionLimits) -> None:
    import uvicorn

    from logsight.local.http_limits import limited_protocol

    gateway = Gateway(default_routes(), workers)
    # Warm the handlers before the first request, like a provisioned environment.
    for route in gateway.routes:
        _ = route.handler
    config = uvicorn.Config(
        gateway,
        host=host,
        port=port,
        lifespan="off",
        access_log=False,
        log_level="warning",
        loop="uvloop",
        # httptools (for speed) with a head size cap and head and body deadlines.
        http=limited_protocol(limits),
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()
