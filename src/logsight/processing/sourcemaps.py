"""Resolving JavaScript frames through uploaded source maps (docs/sourcemaps.md).

A frame's map is found by debug id first (the event's ``debug_meta`` images of type
``sourcemap``, whose ``code_file`` is the frame's file), else by the event's release and dist
and the frame's URL (as served, or ``~/path`` for any host). The minified position is kept in
the frame's ``raw``; a frame that cannot be resolved says why in its ``sourcemap``.

Parsed maps are cached in memory per execution environment (bounded by their size), looked-up
answers for a short time, so a batch of errors from one release parses each map once and an
upload is seen within ``lookup_seconds``. Nothing is written to disk.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit
from uuid import UUID

import psycopg
from symbolic.sourcemap import SourceMapView, SourceView

from logsight import sourcemap_format
from logsight.storage import artifacts
from logsight.storage.artifacts import StoredMap

log = logging.getLogger(__name__)

CONTEXT_LINES = 5
UNAVAILABLE_SECONDS = 30.0
_RAW_FIELDS = ("abs_path", "filename", "function", "lineno", "colno", "in_app")

Connect = Callable[[], AbstractContextManager[psycopg.Connection]]


@dataclass(slots=True)
class _Parsed:
    view: SourceMapView
    minified: SourceView | None
    size: int


@dataclass(frozen=True, slots=True)
class _Found:
    stored: StoredMap | None
    base_url: str | None
    why: str


class SourceMapResolver:
    def __init__(
        self,
        connect: Connect,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        lookup_seconds: float = 30.0,
        max_lookups: int = 4096,
    ) -> None:
        self._connect = connect
        self._max_bytes = max_bytes
        self._lookup_seconds = lookup_seconds
        self._max_lookups = max_lookups
        self._parsed: OrderedDict[str, _Parsed] = OrderedDict()
        self._parsed_bytes = 0
        self._lookups: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
        self._unavailable_until = 0.0

    def resolve(self, project_id: UUID, events: list[dict[str, Any]]) -> None:
        """Rewrites the JavaScript frames of ``events`` in place."""
        todo = [e for e in events if any(True for _ in _js_frames(e))]
        if not todo or time.monotonic() < self._unavailable_until:
            return
        try:
            self._resolve_all(project_id, todo)
        except psycopg.Error as exc:
            # The events must not wait for their frames: they are written as sent, and the
            # database is left alone for a while (not a connect timeout per message).
            self._unavailable_until = time.monotonic() + UNAVAILABLE_SECONDS
            log.warning("source maps unavailable, frames left unresolved: %s", exc)

    def _resolve_all(self, project_id: UUID, todo: list[dict[str, Any]]) -> None:
        with self._connect() as conn:
            if not self._has_artifacts(conn, project_id):
                return
            for event in todo:
                self._resolve_event(conn, project_id, event)

    def _has_artifacts(self, conn: psycopg.Connection, project_id: UUID) -> bool:
        key = ("any", project_id)
        hit = self._lookups.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return bool(hit[1])
        found = artifacts.has_artifacts(conn, project_id)
        self._remember(key, found)
        return found

    def _remember(self, key: tuple[Any, ...], value: Any) -> None:
        self._lookups[key] = (time.monotonic() + self._lookup_seconds, value)
        self._lookups.move_to_end(key)
        while len(self._lookups) > self._max_lookups:
            self._lookups.popitem(last=False)

    def _resolve_event(
        self, conn: psycopg.Connection, project_id: UUID, event: dict[str, Any]
    ) -> None:
        context = event.get("context") if isinstance(event.get("context"), dict) else {}
        assert isinstance(context, dict)
        images = _debug_images(context)
        release = str(event.get("release") or "")
        dist = str(context.get("dist") or "")
        for frame in _js_frames(event):
            path = str(frame.get("abs_path") or frame.get("filename"))
            found = self._find(conn, project_id, images.get(path), release, dist, path)
            _apply(frame, found, self._parse(found.stored) if found.stored else None)

    def _find(
        self,
        conn: psycopg.Connection,
        project_id: UUID,
        debug_id: UUID | None,
        release: str,
        dist: str,
        path: str,
    ) -> _Found:
        if debug_id is not None:
            key: tuple[Any, ...] = ("id", project_id, debug_id)
        else:
            key = ("url", project_id, release, dist, path)
        hit = self._lookups.get(key)
        if hit is not None and hit[0] > time.monotonic():
            self._lookups.move_to_end(key)
            found: _Found = hit[1]
            return found
        if debug_id is not None:
            found = _Found(
                artifacts.map_by_debug_id(conn, project_id, debug_id),
                None,
                f"no source map uploaded for debug id {debug_id}",
            )
        else:
            found = _by_url(conn, project_id, release, dist, path)
        self._remember(key, found)
        return found

    def _parse(self, stored: StoredMap) -> _Parsed | str:
        hit = self._parsed.get(stored.sha256)
        if hit is not None:
            self._parsed.move_to_end(stored.sha256)
            return hit
        try:
            view = sourcemap_format.parse(stored.content)
        except sourcemap_format.NotASourceMap as exc:
            return f"the source map cannot be read: {exc}"
        minified = SourceView.from_bytes(stored.minified) if stored.minified else None
        size = len(stored.content) + len(stored.minified or b"")
        parsed = _Parsed(view, minified, size)
        self._parsed[stored.sha256] = parsed
        self._parsed_bytes += size
        while self._parsed_bytes > self._max_bytes and len(self._parsed) > 1:
            _, dropped = self._parsed.popitem(last=False)
            self._parsed_bytes -= dropped.size
        return parsed


def _js_frames(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if event.get("type") != "error":
        return
    error = event.get("error")
    if not isinstance(error, dict):
        return
    chain = error.get("chain")
    for exception in [error, *(c for c in chain or [] if isinstance(c, dict))]:
        stacktrace = exception.get("stacktrace")
        frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
        for frame in frames if isinstance(frames, list) else []:
            if (
                isinstance(frame, dict)
                and isinstance(frame.get("lineno"), int)
                and isinstance(frame.get("colno"), int)
                and isinstance(frame.get("abs_path") or frame.get("filename"), str)
                and "raw" not in frame
            ):
                yield frame


def _debug_images(context: dict[str, Any]) -> dict[str, UUID]:
    meta = context.get("debug_meta")
    images = meta.get("images") if isinstance(meta, dict) else None
    found: dict[str, UUID] = {}
    for image in images if isinstance(images, list) else []:
        if isinstance(image, dict) and image.get("type") == "sourcemap":
            try:
                found[str(image["code_file"])] = UUID(str(image["debug_id"]))
            except (KeyError, ValueError):
                continue
    return found


def url_candidates(url: str) -> list[str]:
    """The names a file may have been uploaded under: as served, without query and fragment,
    and ``~/path`` (any host), as Sentry matches them."""
    parts = urlsplit(url)
    bare = url.split("#", 1)[0]
    names = [url, bare, bare.split("?", 1)[0]]
    if parts.scheme and parts.netloc:
        path = parts.path or "/"
        names += [f"~{path}?{parts.query}" if parts.query else f"~{path}", f"~{path}"]
    return list(dict.fromkeys(names))


def _by_url(
    conn: psycopg.Connection, project_id: UUID, release: str, dist: str, path: str
) -> _Found:
    names = url_candidates(path)
    minified = artifacts.minified_by_url(conn, project_id, release, dist, names)
    base = path
    if minified is not None and minified[1] and not minified[1].startswith("data:"):
        map_url = urljoin(path, minified[1])
        map_names = [*url_candidates(map_url), urljoin(minified[0], minified[1])]
        base = map_url
    else:
        map_names = [f"{name}.map" for name in names]
    stored = artifacts.map_by_url(conn, project_id, release, dist, map_names)
    if stored is not None and minified is not None:
        stored = StoredMap(stored.id, stored.sha256, stored.content, minified[2])
    where = f"release {release!r}" if release else "no release"
    return _Found(stored, base, f"no source map uploaded for {path} ({where}, dist {dist!r})")


def _source_name(source: str) -> str:
    for prefix in ("webpack://", "webpack:///"):
        if source.startswith(prefix):
            source = source[len(prefix) :]
    while source.startswith(("../", "./")):
        source = source.split("/", 1)[1]
    return source


def _apply(frame: dict[str, Any], found: _Found, parsed: _Parsed | str | None) -> None:
    raw = {k: frame[k] for k in _RAW_FIELDS if k in frame}
    if parsed is None or isinstance(parsed, str):
        frame["sourcemap"] = {"status": "unresolved", "reason": parsed or found.why}
        return
    line, column = int(frame["lineno"]) - 1, int(frame["colno"]) - 1
    token = (
        parsed.view.lookup(line, column, str(frame.get("function") or ""), parsed.minified)
        if parsed.minified is not None and frame.get("function")
        else parsed.view.lookup(line, column)
    )
    # symbolic answers with the nearest earlier token, also from a line before this one.
    if token is None or token.src is None or token.dst_line != line or column < 0:
        frame["sourcemap"] = {
            "status": "unresolved",
            "reason": f"no mapping at line {frame['lineno']}, column {frame['colno']}",
        }
        return
    source = token.src
    frame["raw"] = raw
    frame["abs_path"] = urljoin(found.base_url, source) if found.base_url else source
    frame["filename"] = _source_name(source)
    frame["lineno"] = token.src_line + 1
    frame["colno"] = token.src_col + 1
    function = token.function_name or token.name
    if function:
        frame["function"] = function
    frame["in_app"] = "node_modules/" not in source
    status: dict[str, Any] = {"status": "resolved"}
    view = parsed.view.get_sourceview(token.src_id) if token.src_id is not None else None
    if view is None:
        status["note"] = "the source map has no sourcesContent: no context lines"
    else:
        first = max(0, token.src_line - CONTEXT_LINES)
        lines = view[first : token.src_line + CONTEXT_LINES + 1]
        at = token.src_line - first
        if at < len(lines):
            frame["pre_context"] = lines[:at]
            frame["context_line"] = lines[at]
            frame["post_context"] = lines[at + 1 :]
    frame["sourcemap"] = status
