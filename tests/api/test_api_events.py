"""Event search, one event, and the live view, through Mangum on real PostgreSQL with events
written by the real processor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest

from logsight.processing.batch import BatchProcessor
from tests.support.api import ApiCaller, Member, make_member
from tests.support.query import Tenant, event, ingest, make_tenant

# Fixtures: api, tenant, stranger, processor.
pytest_plugins = ["tests.support.query"]

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def ids(reply_body: dict[str, Any]) -> list[str]:
    return [e["id"] for e in reply_body["data"]]


def search(api: ApiCaller, tenant: Tenant, *pairs: tuple[str, str]) -> dict[str, Any]:
    reply = api("GET", tenant.path("/events"), token=tenant.viewer.token, query=urlencode(pairs))
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body


@pytest.fixture
def catalog(processor: BatchProcessor, tenant: Tenant) -> dict[str, str]:
    """Ten events with known fields; returns name → event id."""
    specs: list[dict[str, Any]] = [
        event(
            BASE,
            "signup",
            user={"id": "u1"},
            session_id="s1",
            release="1.0",
            environment="prod",
            properties={"plan": "pro", "seats": 5, "trial": True},
        ),
        event(
            BASE + timedelta(minutes=1),
            "signup",
            user={"id": "u2"},
            release="1.1",
            environment="prod",
            properties={"plan": "team", "seats": 2},
        ),
        event(
            BASE + timedelta(minutes=2),
            "checkout",
            user={"id": "u1"},
            session_id="s1",
            release="1.1",
            environment="staging",
            properties={"plan": "pro"},
        ),
        event(
            BASE + timedelta(minutes=3),
            "Checkout Failed",
            level="warning",
            message="Card declined by issuer",
            properties={"plan": "free"},
        ),
        {
            "type": "error",
            "timestamp": (BASE + timedelta(minutes=4)).isoformat(),
            "error": {"type": "TypeError", "value": "x is undefined"},
            "message": "TypeError: x is undefined",
            "release": "1.1",
        },
        {
            "type": "pageview",
            "timestamp": (BASE + timedelta(minutes=5)).isoformat(),
            "context": {"url": "https://shop.example/pricing?ref=ad"},
            "user": {"id": "u3"},
        },
        # (Log events are log lines: tests/api/test_api_logs.py.)
        event(
            BASE + timedelta(minutes=6),
            "cache",
            level="debug",
            message="cache hit ratio 100% for key_a",
        ),
        event(BASE + timedelta(minutes=7), "search", properties={"query": "50% off"}),
    ]
    names = ["signup-1", "signup-2", "checkout", "failed", "error", "pageview", "log", "search"]
    for spec, label in zip(specs, names, strict=True):
        spec["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant.project_id}/{label}"))
    assert ingest(processor, tenant.project_id, specs) == len(specs)
    return {label: spec["event_id"] for spec, label in zip(specs, names, strict=True)}


def test_newest_first_with_every_field(
    api: ApiCaller, tenant: Tenant, catalog: dict[str, str]
) -> None:
    body = search(api, tenant)
    assert ids(body) == [
        catalog[n]
        for n in [
            "search",
            "log",
            "pageview",
            "error",
            "failed",
            "checkout",
            "signup-2",
            "signup-1",
        ]
    ]
    assert body["next_cursor"] is None
    first = body["data"][-1]
    assert first["name"] == "signup"
    assert first["user_id"] == "u1"
    assert first["properties"] == {"plan": "pro", "seats": 5, "trial": True}
    assert (first["release"], first["environment"], first["session_id"]) == ("1.0", "prod", "s1")
    assert "context" not in first


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("type", "error")], ["error"]),
        ([("type", "pageview"), ("type", "error")], ["pageview", "error"]),
        ([("name", "signup")], ["signup-2", "signup-1"]),
        ([("level", "warning")], ["failed"]),
        ([("user_id", "u1")], ["checkout", "signup-1"]),
        ([("session_id", "s1"), ("name", "checkout")], ["checkout"]),
        ([("release", "1.1")], ["error", "checkout", "signup-2"]),
        ([("environment", "staging")], ["checkout"]),
        ([("prop.plan", "pro")], ["checkout", "signup-1"]),
        ([("prop[plan]", "pro")], ["checkout", "signup-1"]),
        ([("prop.plan", "pro"), ("prop.plan", "team")], ["checkout", "signup-2", "signup-1"]),
        ([("prop.plan", "pro"), ("prop.seats", "5")], ["signup-1"]),
        ([("prop.trial", "true")], ["signup-1"]),
        ([("prop.plan", "enterprise")], []),
        ([("q", "checkout")], ["failed", "checkout"]),
        ([("q", "DECLINED")], ["failed"]),
        ([("q", "undefined")], ["error"]),
        ([("q", "100%")], ["log"]),
        ([("q", "key_a")], ["log"]),
        ([("q", "100_")], []),
        ([("q", "checkout"), ("level", "info")], ["checkout"]),
    ],
)
def test_filters(
    api: ApiCaller,
    tenant: Tenant,
    catalog: dict[str, str],
    pairs: list[tuple[str, str]],
    expected: list[str],
) -> None:
    assert ids(search(api, tenant, *pairs)) == [catalog[n] for n in expected]


def test_time_range_is_from_inclusive_to_exclusive(
    api: ApiCaller, tenant: Tenant, catalog: dict[str, str]
) -> None:
    body = search(
        api,
        tenant,
        ("from", (BASE + timedelta(minutes=2)).isoformat()),
        ("to", (BASE + timedelta(minutes=4)).isoformat()),
    )
    assert ids(body) == [catalog["failed"], catalog["checkout"]]
    # Without an offset, times are UTC.
    naive = (BASE + timedelta(minutes=7)).astimezone(UTC).replace(tzinfo=None)
    assert ids(search(api, tenant, ("from", naive.isoformat()))) == [catalog["search"]]
    bad = api(
        "GET",
        tenant.path("/events"),
        token=tenant.viewer.token,
        query=urlencode({"from": BASE.isoformat(), "to": BASE.isoformat()}),
    )
    assert bad.status == 422
    assert bad.error["field"] == "query.to"


def test_pages_are_stable_while_events_arrive(
    api: ApiCaller, tenant: Tenant, processor: BatchProcessor
) -> None:
    # Pairs of events share a timestamp: the id breaks the tie, so no event is lost or repeated.
    stamps = [BASE + timedelta(seconds=10 * (i // 2)) for i in range(9)]
    ingest(processor, tenant.project_id, [event(t, f"e{i}") for i, t in enumerate(stamps)])
    expected = search(api, tenant, ("limit", "200"))
    assert len(expected["data"]) == 9
    keys = [(e["timestamp"], e["id"]) for e in expected["data"]]
    assert keys == sorted(keys, reverse=True)

    seen: list[str] = []
    cursor = None
    page_number = 0
    while True:
        pairs = [("limit", "4")] + ([("cursor", cursor)] if cursor else [])
        page = search(api, tenant, *pairs)
        seen += ids(page)
        page_number += 1
        if page_number == 1:
            # Newer events, and one at the very timestamp of the first page's last item.
            ingest(
                processor,
                tenant.project_id,
                [event(BASE + timedelta(minutes=30), "newer"), event(stamps[5], "tied-late")],
                received_at=BASE + timedelta(minutes=31),
            )
        cursor = page["next_cursor"]
        if cursor is None:
            break
    original = ids(expected)
    # Every original event exactly once, in order; the newer one is above the first page and
    # the tied one shows up only if its id sorts below the cursor's.
    assert len(seen) == len(set(seen))
    assert len(seen) in (9, 10)
    assert [s for s in seen if s in set(original)] == original
    assert page_number == 3


def test_one_event_in_full(api: ApiCaller, tenant: Tenant, catalog: dict[str, str]) -> None:
    reply = api("GET", tenant.path(f"/events/{catalog['pageview']}"), token=tenant.viewer.token)
    assert reply.status == 200, reply.body
    assert reply.body["type"] == "pageview"
    assert reply.body["context"]["url"] == "https://shop.example/pricing?ref=ad"
    assert reply.body["user_traits"] == {"id": "u3"}

    error = api("GET", tenant.path(f"/events/{catalog['error']}"), token=tenant.viewer.token)
    assert error.body["error"]["value"] == "x is undefined"
    hinted = api(
        "GET",
        tenant.path(f"/events/{catalog['error']}"),
        token=tenant.viewer.token,
        query=urlencode({"timestamp": error.body["timestamp"]}),
    )
    assert hinted.body == error.body

    missing = api("GET", tenant.path(f"/events/{uuid.uuid4()}"), token=tenant.viewer.token)
    assert missing.status == 404
    assert missing.error["code"] == "not_found"


def test_other_tenants_see_nothing(
    api: ApiCaller,
    tenant: Tenant,
    catalog: dict[str, str],
    stranger: Member,
    db: psycopg.Connection,
) -> None:
    for path in [
        "/events",
        f"/events/{catalog['signup-1']}",
        "/live",
        "/stats/timeseries",
        "/stats/summary",
    ]:
        reply = api("GET", tenant.path(path), token=stranger.token)
        assert reply.status == 404, path
        assert reply.error["code"] == "not_found"
    assert api("GET", tenant.path("/events")).status == 401

    # An event id of this project asked for through another project the caller can see.
    other = make_tenant(db)
    reply = api("GET", other.path(f"/events/{catalog['signup-1']}"), token=other.viewer.token)
    assert reply.status == 404

    # Read-only tokens read.
    reader = make_member(db, tenant.organization_id, "viewer", scope="read")
    assert api("GET", tenant.path("/events"), token=reader.token).status == 200


@pytest.mark.parametrize(
    "query",
    [
        "cursor=not-a-cursor",
        "cursor=WyJ4Il0",  # ["x"]: wrong arity
        "cursor=WyJ4IiwgInkiXQ",  # ["x", "y"]: not a time and an id
        "cursor=WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCJd",
    ],
)
def test_bad_cursors_are_400(api: ApiCaller, tenant: Tenant, query: str) -> None:
    reply = api("GET", tenant.path("/events"), token=tenant.viewer.token, query=query)
    assert reply.status == 400
    assert reply.error == {
        "code": "invalid_cursor",
        "message": "cursor is not valid",
        "field": "cursor",
    }


def test_openapi_documents_the_query_syntax(api: ApiCaller) -> None:
    spec = api("GET", "/api/openapi.json").body
    operation = spec["paths"]["/api/projects/{project_id}/events"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["prop"]["style"] == "deepObject"
    assert "prop.<key>=<value>" in params["prop"]["description"]
    assert {"q", "from", "to", "type", "cursor", "limit"} <= set(params)
    assert "503" in operation["responses"]
    for path in ["/stats/timeseries", "/stats/summary", "/live"]:
        assert f"/api/projects/{{project_id}}{path}" in spec["paths"]


# The live view


def test_live_polls_tile_time_by_arrival(
    api: ApiCaller, tenant: Tenant, processor: BatchProcessor
) -> None:
    now = datetime.now(UTC)
    # Arrived 10 minutes ago: before the first window.
    ingest(
        processor,
        tenant.project_id,
        [event(now - timedelta(minutes=10), "old")],
        received_at=now - timedelta(minutes=10),
    )
    # Arrived 2 minutes ago but happened (client clock) 3 hours ago: in the window.
    ingest(
        processor,
        tenant.project_id,
        [
            event(now - timedelta(hours=3), "late", user={"id": "u1"}),
            {
                "type": "error",
                "timestamp": (now - timedelta(minutes=2)).isoformat(),
                "error": {"type": "E"},
                "user": {"id": "u2"},
            },
            event(now - timedelta(minutes=2), "a", user={"id": "u1"}),
        ],
        received_at=now - timedelta(minutes=2),
    )
    first = api("GET", tenant.path("/live"), token=tenant.viewer.token)
    assert first.status == 200, first.body
    assert sorted(e["name"] for e in first.body["events"]) == ["E", "a", "late"]
    assert first.body["counts"] == {
        "events": 3,
        "errors": 1,
        "users": 2,
        "by_type": {"error": 1, "event": 2},
    }
    assert first.body["truncated"] is False

    # Nothing new: an empty window that starts where the last one ended.
    second = api(
        "GET",
        tenant.path("/live"),
        token=tenant.viewer.token,
        query=urlencode({"cursor": first.body["cursor"]}),
    )
    assert second.body["from"] == first.body["to"]
    assert second.body["events"] == []
    assert second.body["counts"]["events"] == 0

    # Arrivals after the cursor, with the newest listed first and the rest counted.
    arrived = datetime.fromisoformat(second.body["to"]) + timedelta(milliseconds=100)
    ingest(
        processor,
        tenant.project_id,
        [event(arrived - timedelta(seconds=i), f"n{i}") for i in range(3)],
        received_at=arrived,
    )
    # The window closes a second behind now: wait until it covers the new arrivals.
    deadline = datetime.now(UTC) + timedelta(seconds=5)
    cursor = second.body["cursor"]
    names: list[str] = []
    total = 0
    while datetime.now(UTC) < deadline and total < 3:
        third = api(
            "GET",
            tenant.path("/live"),
            token=tenant.viewer.token,
            query=urlencode({"cursor": cursor, "limit": "2"}),
        )
        assert third.status == 200
        names += [e["name"] for e in third.body["events"]]
        total += third.body["counts"]["events"]
        if third.body["counts"]["events"]:
            assert third.body["truncated"] is True
        cursor = third.body["cursor"]
    assert total == 3
    # One message: the three share received_at, so any two of them are the newest.
    assert len(names) == 2
    assert set(names) <= {"n0", "n1", "n2"}
