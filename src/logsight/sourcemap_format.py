"""Reading source maps with Sentry's `symbolic` (the Rust `sourcemap` crate Sentry resolves
with), shared by the upload checks and the processor's resolver."""

from __future__ import annotations

import orjson
from symbolic.exceptions import SymbolicError
from symbolic.sourcemap import SourceMapView


class NotASourceMap(ValueError):
    pass


def parse(content: bytes) -> SourceMapView:
    """A parsed source map; ``NotASourceMap`` for anything else (JSON or not)."""
    try:
        return SourceMapView.from_json_bytes(content)
    except SymbolicError as exc:
        raise NotASourceMap(str(exc) or type(exc).__name__) from exc


def check(content: bytes) -> str | None:
    """Refuses what is not a version 3 source map (symbolic accepts any JSON object); returns
    the map's debug id, if it carries one."""
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise NotASourceMap(f"not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("version") != 3:
        raise NotASourceMap("not a version 3 source map")
    if not isinstance(document.get("mappings"), str) and not isinstance(
        document.get("sections"), list
    ):
        raise NotASourceMap("a source map needs mappings or sections")
    parse(content)
    found = document.get("debug_id") or document.get("debugId")
    return found if isinstance(found, str) else None
