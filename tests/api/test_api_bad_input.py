"""Bad input answers 4xx with the error shape, never 500: text PostgreSQL cannot hold (NUL),
forged cursors, integers beyond bigint, times beyond what UTC and datetime can hold.

Through the real Lambda path (API Gateway event → Mangum → FastAPI) on real PostgreSQL, with a
tenant whose events and issue were written by the real processor.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg.types.json import Jsonb

from logsight.api.deps import Conn
from logsight.config import Settings
from tests.support.api import ApiCaller, Reply
from tests.support.tenancy import Tenant, discover, make_tenant

BIGINT_MAX = 2**63 - 1
SOME_ID = "00000000-0000-0000-0000-000000000000"
SOME_TIME = "2026-01-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def api(database_url: str) -> Iterator[ApiCaller]:
    caller = ApiCaller(Settings(database_url=database_url, key_cache_seconds=0))
    yield caller
    caller.close()


@pytest.fixture(scope="module")
def tenant(database_url: str) -> Tenant:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return make_tenant(conn, database_url, "input")


@pytest.fixture(scope="module")
def issue_id(database_url: str, tenant: Tenant) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return str(discover(conn, tenant, "issue_id"))


def owner(tenant: Tenant) -> str:
    return tenant.members["owner"].token


def project(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/projects/{tenant.project_id}{suffix}"


def cursor(values: Any) -> str:
    # json, not orjson: a forged cursor may hold integers beyond 64 bits.
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def assert_invalid(reply: Reply, status: int, code: str, field: str) -> None:
    assert reply.status == status, reply.body
    assert reply.error["code"] == code, reply.body
    assert reply.error["field"] == field, reply.body
    assert reply.error["message"]


EARLY = "0001-01-01T00:00:00+01:00"  # 31 December of year 1 BC in UTC
LATE = "9999-12-31T23:59:59-01:00"  # year 10000 in UTC


@pytest.mark.parametrize(
    ("suffix", "query", "field"),
    [
        # NUL: PostgreSQL text cannot hold it.
        ("/events", "q=a%00b", "query.q"),
        ("/events", "user_id=a%00b", "query.user_id"),
        ("/events", "session_id=%00", "query.session_id"),
        ("/events", "release=1.0%00", "query.release"),
        ("/events", "environment=prod%00", "query.environment"),
        ("/events", "name=ok&name=a%00b", "query.name"),
        ("/events", "prop.x=a%00b", "query.prop.x"),
        ("/events", "prop%5Bx%5D=a%00b", "query.prop[x]"),
        ("/events", "prop.a%00b=x", "query.prop.a\\u0000b"),
        ("/issues", "query=a%00b", "query.query"),
        ("/issues", "level=a%00b", "query.level"),
        ("/issues", "release=a%00b", "query.release"),
        ("/issues", "environment=a%00b", "query.environment"),
        ("/stats/timeseries", "name=a%00b", "query.name"),
        ("/stats/timeseries", "type=a%00b", "query.type"),
        ("/stats/timeseries", "release=a%00b", "query.release"),
        # Times beyond what datetime holds once read in UTC.
        ("/events", f"from={quote(EARLY)}", "query.from"),
        ("/events", f"to={quote(LATE)}", "query.to"),
        ("/events/{event}", f"timestamp={quote(EARLY)}", "query.timestamp"),
        ("/stats/timeseries", f"from={quote(EARLY)}", "query.from"),
        ("/stats/summary", f"to={quote(LATE)}", "query.to"),
        # Without an offset the time is read in tz, ahead of UTC here.
        ("/stats/summary", "from=0001-01-01T00:00:00&tz=Asia/Tokyo", "query.from"),
    ],
)
def test_bad_query_parameters_are_422(
    api: ApiCaller, tenant: Tenant, suffix: str, query: str, field: str
) -> None:
    path = project(tenant, suffix.format(event=tenant.event_ids[0]))
    reply = api("GET", path, token=owner(tenant), query=query)
    assert_invalid(reply, 422, "invalid_field", field)


def test_nul_in_a_project_name_is_422(api: ApiCaller, tenant: Tenant) -> None:
    created = api(
        "POST",
        "/api/projects",
        token=owner(tenant),
        json={"organization_id": str(tenant.organization_id), "name": "a\x00b"},
    )
    assert_invalid(created, 422, "invalid_field", "body.name")
    renamed = api("PATCH", project(tenant), token=owner(tenant), json={"name": "\x00"})
    assert_invalid(renamed, 422, "invalid_field", "body.name")


def test_nul_in_a_login_email_is_422(api: ApiCaller) -> None:
    reply = api(
        "POST", "/api/auth/login", json={"email": "a\x00b@example.com", "password": "secret"}
    )
    assert_invalid(reply, 422, "invalid_field", "body.email")


def test_every_route_gets_the_text_check_body_keys_and_nesting_included(
    database_url: str,
) -> None:
    # A route that stores free-form JSON, as routes added later may: no check of its own.
    caller = ApiCaller(Settings(database_url=database_url))

    @caller.app.post("/api/free-form")
    def free_form(conn: Conn, body: dict[str, Any]) -> dict[str, Any]:
        row = conn.execute("SELECT %s::jsonb", (Jsonb(body),)).fetchone()
        return {"stored": row[0] if row else None}

    try:
        assert caller("POST", "/api/free-form", json={"a": ["ok"]}).status == 200
        for raw, field in [
            (b'{"a": ["ok", "b\\u0000"]}', "body.a.1"),
            (b'{"a": {"b\\u0000": 1}}', "body.a.b\\u0000"),
            (b'{"a": "\\ud800"}', "body.a"),
            (b'{"a": {"\\udfff": 1}}', "body.a.\\udfff"),
        ]:
            assert_invalid(caller("POST", "/api/free-form", raw=raw), 422, "invalid_field", field)
    finally:
        caller.close()


# Forged cursors: decoded values reach SQL only once they have the right types and ranges

ISSUE_LIST_CURSORS = [
    ("", [1, 2]),
    ("", [None, None]),
    ("", [SOME_TIME, "nope"]),
    ("", [SOME_TIME, 5]),
    ("", ["nope", SOME_ID]),
    ("", [{}, []]),
    ("", [1, SOME_ID]),
    ("", ["2026-01-01T00:00:00", SOME_ID]),  # no offset: which zone?
    ("", ["0001-01-01T00:00:00+14:00", SOME_ID]),  # before year 1 in UTC
    ("sort=events&", ["x", SOME_ID]),
    ("sort=events&", [2**70, SOME_ID]),
    ("sort=events&", [1.5, SOME_ID]),
    ("sort=events&", [True, SOME_ID]),
    ("sort=events&", [-1, SOME_ID]),
    ("sort=users&", [SOME_TIME, SOME_ID]),  # a last_seen cursor with another sort
]


@pytest.mark.parametrize(
    ("query", "values"), ISSUE_LIST_CURSORS, ids=[f"{q}{v}" for q, v in ISSUE_LIST_CURSORS]
)
def test_forged_issue_list_cursors_are_400(
    api: ApiCaller, tenant: Tenant, query: str, values: Any
) -> None:
    reply = api(
        "GET",
        project(tenant, "/issues"),
        token=owner(tenant),
        query=query + "cursor=" + cursor(values),
    )
    assert_invalid(reply, 400, "invalid_cursor", "cursor")


@pytest.mark.parametrize(
    "values", [[1, 2], [None, None], [SOME_TIME, "nope"], ["2026-01-01T00:00:00", SOME_ID]]
)
def test_forged_issue_event_cursors_are_400(
    api: ApiCaller, tenant: Tenant, issue_id: str, values: Any
) -> None:
    reply = api(
        "GET",
        project(tenant, f"/issues/{issue_id}/events"),
        token=owner(tenant),
        query="cursor=" + cursor(values),
    )
    assert_invalid(reply, 400, "invalid_cursor", "cursor")


@pytest.mark.parametrize("values", [[1, 2], [None, None], [SOME_TIME, 5]])
def test_forged_project_list_cursors_are_400(api: ApiCaller, tenant: Tenant, values: Any) -> None:
    reply = api("GET", "/api/projects", token=owner(tenant), query="cursor=" + cursor(values))
    assert_invalid(reply, 400, "invalid_cursor", "cursor")


# Integers: what a bigint column holds


def test_ignore_count_beyond_bigint_is_422(api: ApiCaller, tenant: Tenant, issue_id: str) -> None:
    reply = api(
        "PATCH",
        project(tenant, f"/issues/{issue_id}"),
        token=owner(tenant),
        json={"status": "ignored", "ignore_count": BIGINT_MAX + 1},
    )
    assert_invalid(reply, 422, "invalid_field", "body.ignore_count")


def test_the_largest_ignore_count_never_reopens_the_issue(
    api: ApiCaller, tenant: Tenant, issue_id: str
) -> None:
    path = project(tenant, f"/issues/{issue_id}")
    reply = api(
        "PATCH", path, token=owner(tenant), json={"status": "ignored", "ignore_count": BIGINT_MAX}
    )
    assert reply.status == 200, reply.body
    # events + count would overflow: the threshold stays at the largest count there is.
    assert reply.body["ignore_until_events"] == BIGINT_MAX
    assert api("PATCH", path, token=owner(tenant), json={"status": "unresolved"}).status == 200


# Times in bodies: what datetime can hold once read in UTC (and back from PostgreSQL)


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_ignore_until_beyond_the_calendar_is_422(
    api: ApiCaller, tenant: Tenant, issue_id: str, moment: str
) -> None:
    reply = api(
        "PATCH",
        project(tenant, f"/issues/{issue_id}"),
        token=owner(tenant),
        json={"status": "ignored", "ignore_until": moment},
    )
    assert_invalid(reply, 422, "invalid_field", "body.ignore_until")


def test_a_token_expiring_beyond_the_calendar_is_422(api: ApiCaller, tenant: Tenant) -> None:
    reply = api(
        "POST",
        "/api/tokens",
        token=owner(tenant),
        json={"name": "far", "expires_at": "9999-12-31T23:59:59-14:00"},
    )
    assert_invalid(reply, 422, "invalid_field", "body.expires_at")


# The last resort: a value the database rejects that no check caught


def test_a_value_the_database_rejects_is_400_not_500(database_url: str) -> None:
    caller = ApiCaller(Settings(database_url=database_url))

    @caller.app.get("/api/checks-missed")
    def checks_missed(conn: Conn, value: str) -> dict[str, Any]:
        row = conn.execute("SELECT %s::integer", (value,)).fetchone()
        return {"value": row[0] if row else None}

    try:
        reply = caller("GET", "/api/checks-missed", query="value=twelve")
    finally:
        caller.close()
    assert reply.status == 400, reply.body
    assert reply.error["code"] == "invalid_value"
