"""The impact of an issue: users and sessions it reached, and the share of sessions reaching an
event with and without the error — against hand-counted sessions written by the processor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from logsight.config import Settings
from logsight.processing.batch import BatchProcessor
from tests.support.api import ApiCaller, Reply
from tests.support.query import ROLES, Org, ingest

# Fixtures: processor, org, other.
pytest_plugins = ["tests.support.query"]

DAY = "2026-11-20T"
RANGE = {"from": DAY + "10:00:00Z", "to": DAY + "12:00:00Z"}
BOOM = {"type": "TypeError", "value": "cart is undefined"}


@pytest.fixture
def api(database_url: str) -> Iterator[ApiCaller]:
    caller = ApiCaller(Settings(database_url=database_url, key_cache_seconds=0))
    yield caller
    caller.close()


def at(minute: int, **fields: Any) -> dict[str, Any]:
    return {"timestamp": f"{DAY}10:{minute:02d}:00Z", **fields}


def boom(minute: int, **fields: Any) -> dict[str, Any]:
    return at(minute, type="error", error=BOOM, **fields)


def checkout(minute: int, **fields: Any) -> dict[str, Any]:
    return at(minute, name="checkout_completed", **fields)


@pytest.fixture
def shop(processor: BatchProcessor, org: Org) -> Org:
    """Seven sessions and one Sentry-style error without a session:
    s1 (u1) met the error, then checked out;  s2 (u2), s3 (u2) met it and did not;
    s4 (u3), s5 (u4) checked out;  s6 (u5) only looked;  s7 (u6) met ANOTHER error and checked
    out;  u7 met the error with no session; and an error of the issue outside the range."""
    specs = [
        boom(1, session_id="s1", user={"id": "u1"}),
        checkout(2, session_id="s1", user={"id": "u1"}),
        boom(3, session_id="s2", user={"id": "u2"}),
        at(4, name="pageview", session_id="s2", user={"id": "u2"}),
        boom(5, session_id="s3", user={"id": "u2"}),
        checkout(6, session_id="s4", user={"id": "u3"}),
        checkout(7, session_id="s5", user={"id": "u4"}),
        at(8, name="pageview", session_id="s6", user={"id": "u5"}),
        at(9, type="error", error={"type": "ValueError", "value": "x"}, session_id="s7"),
        checkout(10, session_id="s7", user={"id": "u6"}),
        boom(11, user={"id": "u7"}),
        {"timestamp": DAY + "09:00:00Z", "type": "error", "error": BOOM, "session_id": "s9"},
    ]
    assert ingest(processor, org.project_id, specs) == len(specs)
    return org


def issue_id(api: ApiCaller, org: Org, error_type: str = "TypeError") -> str:
    listed = api("GET", org.path("/issues"), token=org.members["viewer"].token)
    (found,) = [i for i in listed.body["data"] if i["error_type"] == error_type]
    return str(found["id"])


def impact(api: ApiCaller, org: Org, issue: str, role: str = "viewer", **params: Any) -> Reply:
    return api(
        "GET",
        org.path(f"/issues/{issue}/impact"),
        token=org.members[role].token,
        query=urlencode({**RANGE, **params}),
    )


def test_users_and_sessions_the_issue_reached(api: ApiCaller, shop: Org) -> None:
    reply = impact(api, shop, issue_id(api, shop))
    assert reply.status == 200, reply.body
    body = reply.body
    assert body["events"] == 4  # s1, s2, s3 and the one without a session
    assert body["users"] == 3  # u1, u2, u7
    assert body["sessions"] == 3  # s1, s2, s3
    assert body["active_sessions"] == 7
    assert body["active_users"] == 7 and body["active_users_approximate"] is False
    assert body["reach"] is None


def test_sessions_reaching_an_event_with_and_without_the_error(api: ApiCaller, shop: Org) -> None:
    body = impact(api, shop, issue_id(api, shop), event="checkout_completed").body
    reach = body["reach"]
    assert reach["event"] == "checkout_completed"
    assert reach["with_error"] == {"sessions": 3, "reached": 1, "share": pytest.approx(1 / 3)}
    # s4, s5, s6 and s7 (another error is not this one).
    assert reach["without_error"] == {"sessions": 4, "reached": 3, "share": 0.75}
    assert reach["difference"] == pytest.approx(1 / 3 - 0.75)
    # Seen from the other error: s7 met it and checked out.
    other = impact(api, shop, issue_id(api, shop, "ValueError"), event="checkout_completed").body
    assert other["reach"]["with_error"] == {"sessions": 1, "reached": 1, "share": 1.0}
    assert other["reach"]["without_error"] == {"sessions": 6, "reached": 3, "share": 0.5}


def test_an_event_nobody_reached_and_an_empty_range(api: ApiCaller, shop: Org) -> None:
    issue = issue_id(api, shop)
    body = impact(api, shop, issue, event="never_sent").body
    assert body["reach"]["with_error"] == {"sessions": 3, "reached": 0, "share": 0.0}
    assert body["reach"]["without_error"]["reached"] == 0
    empty = impact(
        api,
        shop,
        issue,
        event="checkout_completed",
        **{"from": DAY + "00:00:00Z"},
        to=DAY + "01:00:00Z",
    ).body
    assert empty["events"] == empty["sessions"] == empty["active_sessions"] == 0
    assert empty["reach"]["with_error"] == {"sessions": 0, "reached": 0, "share": None}
    assert empty["reach"]["difference"] is None


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_it(api: ApiCaller, shop: Org, role: str) -> None:
    assert impact(api, shop, issue_id(api, shop), role).status == 200


def test_another_organizations_issue_is_not_found(api: ApiCaller, shop: Org, other: Org) -> None:
    theirs = issue_id(api, shop)
    for role in ROLES:
        # Their project; and their issue under our own project.
        for path in (shop.path(f"/issues/{theirs}/impact"), other.path(f"/issues/{theirs}/impact")):
            reply = api("GET", path, token=other.members[role].token)
            assert reply.status == 404, (role, path, reply.body)
            assert reply.error["code"] == "not_found"
    assert impact(api, shop, str(uuid.uuid4())).status == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"event": ""}, "query.event"),
        ({"event": "x" * 257}, "query.event"),
        ({"range": "90d"}, "query.range"),
        ({"from": DAY + "13:00:00Z"}, "query.to"),
        ({"tz": "Nowhere/Else"}, "query.tz"),
        ({"from": "2399-12-31T00:00:00Z", "to": "2400-01-01T00:00:00Z"}, "query.to"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    api: ApiCaller, shop: Org, params: dict[str, str], field: str
) -> None:
    reply = impact(api, shop, issue_id(api, shop), **params)
    assert reply.status == 422, reply.body
    assert reply.error["field"] == field


def test_a_bad_issue_id_is_422(api: ApiCaller, org: Org) -> None:
    reply = impact(api, org, "not-a-uuid")
    assert reply.status == 422
    assert reply.error["field"] == "path.issue_id"
