"""Uploaded source maps resolving minified JavaScript frames in the real pipeline: upload through
the API, a message through the processor, the resolved frame read back through the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from logsight.config import Settings
from logsight.ingest.sentry.mapping import map_event
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.processing.sourcemaps import SourceMapResolver, url_candidates
from logsight.storage.db import Database
from tests.support.api import ApiCaller, make_team
from tests.support.processor import message, rmq_event
from tests.support.runtime import free_port

DIST = Path(__file__).parent.parent / "fixtures" / "sourcemaps" / "dist"
BUNDLE = (DIST / "app.min.js").read_bytes()
MAP = (DIST / "app.min.js.map").read_bytes()
# Where V8 reports `throw new TypeError(...)` in the one-line bundle (1-based).
THROW_COLUMN = BUNDLE.index(b"new TypeError") + 1
SERVED = "https://shop.example/assets/app.min.js?v=3"


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(settings)
    yield caller
    caller.close()


@pytest.fixture
def team(api: ApiCaller, db: psycopg.Connection) -> dict[str, Any]:
    return make_team(api, db)


@pytest.fixture
def processor(database_url: str) -> Iterator[BatchProcessor]:
    db = Database(database_url)
    yield BatchProcessor(db, "logsight.events.dead", resolver=SourceMapResolver(db.connection))
    db.reset()


def upload(
    api: ApiCaller, team: dict[str, Any], url: str, content: bytes, *, query: str = ""
) -> Any:
    return api(
        "POST",
        f"/api/projects/{team['project']['id']}/sourcemaps",
        token=team["member"].token,
        raw=content,
        query=f"url={url}{query}",
        headers={"content-type": "application/octet-stream"},
    )


def error_event(**extra: Any) -> dict[str, Any]:
    return {
        "type": "error",
        "name": "TypeError",
        "message": "unknown discount code WINTER",
        "error": {
            "type": "TypeError",
            "value": "unknown discount code WINTER",
            "stacktrace": {
                "frames": [
                    {"abs_path": SERVED, "function": "r", "lineno": 1, "colno": THROW_COLUMN}
                ]
            },
        },
        **extra,
    }


def stored_frame(api: ApiCaller, team: dict[str, Any], event_id: str) -> dict[str, Any]:
    reply = api(
        "GET",
        f"/api/projects/{team['project']['id']}/events/{event_id}",
        token=team["viewer"].token,
    )
    assert reply.status == 200, reply.body
    frame: dict[str, Any] = reply.body["error"]["stacktrace"]["frames"][-1]
    return frame


def process(processor: BatchProcessor, team: dict[str, Any], event: dict[str, Any]) -> str:
    event_id = str(uuid.uuid4())
    body = message(uuid.UUID(team["project"]["id"]), {**event, "event_id": event_id})
    processor.process(records_from_event(rmq_event("logsight.events.0", [body])))
    return event_id


def test_release_and_url_resolve_a_minified_frame(
    api: ApiCaller, team: dict[str, Any], processor: BatchProcessor
) -> None:
    assert upload(api, team, "~/assets/app.min.js", BUNDLE, query="&release=shop@1").status == 201
    reply = upload(api, team, "~/assets/app.min.js.map", MAP, query="&release=shop@1")
    assert reply.status == 201, reply.body
    assert reply.body["kind"] == "source_map"

    frame = stored_frame(api, team, process(processor, team, error_event(release="shop@1")))

    assert frame["filename"] == "src/checkout.js"
    assert frame["lineno"] == 5
    assert frame["function"] == "applyDiscount"
    assert "throw new TypeError" in frame["context_line"]
    assert frame["pre_context"][-1].strip() == "if (rate === undefined) {"
    assert frame["in_app"] is True
    assert frame["raw"] == {"abs_path": SERVED, "function": "r", "lineno": 1, "colno": THROW_COLUMN}
    assert frame["sourcemap"] == {"status": "resolved"}


def test_debug_id_resolves_without_a_release(
    api: ApiCaller, team: dict[str, Any], processor: BatchProcessor
) -> None:
    debug_id = str(uuid.uuid4())
    with_id = orjson.dumps({**orjson.loads(MAP), "debug_id": debug_id})
    assert upload(api, team, "~/assets/app.min.js.map", with_id).status == 201
    # The minified file (its debugId comment as sentry-cli injects it) names the functions.
    commented = BUNDLE + f"//# debugId={debug_id}\n".encode()
    reply = upload(api, team, "~/assets/app.min.js", commented)
    assert reply.body["debug_id"] == debug_id
    # What the Sentry SDKs send: the injected debug id of each loaded file.
    sentry = map_event(
        {
            "exception": {"values": [error_event()["error"]]},
            "debug_meta": {
                "images": [{"type": "sourcemap", "code_file": SERVED, "debug_id": debug_id}]
            },
        }
    )
    assert sentry["context"]["debug_meta"]["images"][0]["debug_id"] == debug_id

    frame = stored_frame(api, team, process(processor, team, sentry))

    assert (frame["filename"], frame["lineno"], frame["function"]) == (
        "src/checkout.js",
        5,
        "applyDiscount",
    )


def test_an_unresolved_frame_says_why(
    api: ApiCaller, team: dict[str, Any], processor: BatchProcessor
) -> None:
    assert upload(api, team, "~/assets/app.min.js.map", MAP, query="&release=shop@1").status == 201

    other_release = stored_frame(api, team, process(processor, team, error_event(release="2")))
    assert other_release["lineno"] == 1
    assert other_release["sourcemap"]["status"] == "unresolved"
    assert "release '2'" in other_release["sourcemap"]["reason"]
    assert "raw" not in other_release

    out_of_range = error_event(release="shop@1")
    out_of_range["error"]["stacktrace"]["frames"][0]["lineno"] = 40
    frame = stored_frame(api, team, process(processor, team, out_of_range))
    assert frame["sourcemap"] == {
        "status": "unresolved",
        "reason": f"no mapping at line 40, column {THROW_COLUMN}",
    }


def test_grouping_uses_resolved_frames_across_rebuilds(
    api: ApiCaller, team: dict[str, Any], processor: BatchProcessor, db: psycopg.Connection
) -> None:
    for release, served in (("1", SERVED), ("2", "https://shop.example/assets/app.9f3e1.min.js")):
        url = "~" + served.split("shop.example", 1)[1].split("?", 1)[0]
        name = url.rsplit("/", 1)[1].encode()
        bundle = BUNDLE.replace(
            b"sourceMappingURL=app.min.js.map", b"sourceMappingURL=" + name + b".map"
        )
        assert upload(api, team, url, bundle, query=f"&release={release}").status == 201
        assert upload(api, team, url + ".map", MAP, query=f"&release={release}").status == 201
        event = error_event(release=release)
        event["error"]["stacktrace"]["frames"][0]["abs_path"] = served
        process(processor, team, event)

    resolved = db.execute(
        "SELECT count(*) FROM events WHERE project_id = %s"
        " AND error->'stacktrace'->'frames'->0->'sourcemap'->>'status' = 'resolved'",
        (team["project"]["id"],),
    ).fetchone()
    assert resolved == (2,)
    issues = db.execute(
        "SELECT count(*) FROM issues WHERE project_id = %s", (team["project"]["id"],)
    ).fetchone()
    assert issues == (1,)


def test_url_candidates_follow_sentrys_tilde_paths() -> None:
    assert url_candidates("https://a.example/js/app.js?v=1#x") == [
        "https://a.example/js/app.js?v=1#x",
        "https://a.example/js/app.js?v=1",
        "https://a.example/js/app.js",
        "~/js/app.js?v=1",
        "~/js/app.js",
    ]


def test_an_unreachable_database_leaves_frames_as_sent() -> None:
    db = Database(f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    resolver = SourceMapResolver(db.connection)
    event = error_event(release="shop@1")
    resolver.resolve(uuid.uuid4(), [event])
    assert event == error_event(release="shop@1")
