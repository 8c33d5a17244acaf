"""Custom dashboards through the API (Mangum → FastAPI → PostgreSQL): the default dashboard,
roles, tenancy, strict validation, audit, and widget data from the rollups and the events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest

from logsight.config import Settings
from logsight.dashboard_schema import MAX_WIDGETS, DashboardDefinition
from logsight.processing.batch import BatchProcessor
from logsight.tenancy.dashboards import MAX_DASHBOARDS
from tests.support.api import ApiCaller, Reply
from tests.support.query import ROLES, Org, event, ingest

# Fixtures: api, processor, org, other.
pytest_plugins = ["tests.support.query"]


@pytest.fixture
def api(database_url: str) -> Iterator[ApiCaller]:
    caller = ApiCaller(Settings(database_url=database_url, key_cache_seconds=0))
    yield caller
    caller.close()


def widget(wid: str = "w1", **fields: Any) -> dict[str, Any]:
    return {
        "id": wid,
        "kind": "timeseries",
        "layout": {"x": 0, "y": 0, "w": 6, "h": 4},
        **fields,
    }


def dashboards(org: Org, suffix: str = "") -> str:
    return org.path(f"/dashboards{suffix}")


def dashboard(name: str = "Checkout", **fields: Any) -> dict[str, Any]:
    return {"name": name, "widgets": [widget()], **fields}


def default_id(api: ApiCaller, org: Org) -> str:
    reply = api("GET", dashboards(org), token=org.members["viewer"].token)
    assert reply.status == 200, reply.body
    return str(reply.body["data"][0]["id"])


# The default dashboard


def test_a_new_project_comes_with_the_default_dashboard(api: ApiCaller, org: Org) -> None:
    reply = api("GET", dashboards(org), token=org.members["viewer"].token)
    assert reply.status == 200, reply.body
    (only,) = reply.body["data"]
    assert only["name"] == "Overview" and only["range"] == "24h"
    assert only["created_by"] is None
    assert [w["kind"] for w in only["widgets"]] == [
        "timeseries",
        "number",
        "bar",
        "table",
        "timeseries",
    ]
    # What the migration stores is a valid definition (the API's own model reads it back).
    DashboardDefinition.model_validate({"name": only["name"], "widgets": only["widgets"]})


def test_a_project_created_through_the_api_has_it_too(api: ApiCaller, org: Org) -> None:
    created = api(
        "POST",
        "/api/projects",
        token=org.members["admin"].token,
        json={"organization_id": str(org.organization_id), "name": "Second shop"},
    )
    assert created.status == 201, created.body
    listed = api(
        "GET",
        f"/api/projects/{created.body['id']}/dashboards",
        token=org.members["viewer"].token,
    )
    assert [d["name"] for d in listed.body["data"]] == ["Overview"]


# Roles


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads(api: ApiCaller, org: Org, role: str) -> None:
    token = org.members[role].token
    dashboard_id = default_id(api, org)
    assert api("GET", dashboards(org), token=token).status == 200
    assert api("GET", dashboards(org, f"/{dashboard_id}"), token=token).status == 200
    assert api("GET", dashboards(org, "/query"), token=token).status == 200


def test_viewers_cannot_write(api: ApiCaller, org: Org) -> None:
    token = org.members["viewer"].token
    dashboard_id = default_id(api, org)
    for method, path, body in (
        ("POST", dashboards(org), dashboard()),
        ("PUT", dashboards(org, f"/{dashboard_id}"), dashboard()),
        ("DELETE", dashboards(org, f"/{dashboard_id}"), None),
    ):
        reply = api(method, path, token=token, json=body)
        assert reply.status == 403, (method, reply.body)
        assert reply.error["code"] == "forbidden"
    assert len(api("GET", dashboards(org), token=token).body["data"]) == 1


@pytest.mark.parametrize("role", ["member", "admin", "owner"])
def test_members_and_above_write(api: ApiCaller, org: Org, role: str) -> None:
    token = org.members[role].token
    created = api("POST", dashboards(org), token=token, json=dashboard(f"by {role}"))
    assert created.status == 201, created.body
    path = dashboards(org, f"/{created.body['id']}")
    assert api("PUT", path, token=token, json=dashboard("renamed")).status == 200
    assert api("DELETE", path, token=token).status == 204


def test_a_read_only_token_cannot_write(api: ApiCaller, org: Org, db: psycopg.Connection) -> None:
    from logsight.tenancy import api_tokens

    owner = org.members["owner"]
    reader = api_tokens.issue(db, owner.user_id, name="ro", scope="read").token
    reply = api("POST", dashboards(org), token=reader, json=dashboard())
    assert reply.status == 403 and reply.error["code"] == "insufficient_scope"
    assert api("GET", dashboards(org), token=reader).status == 200


# The whole cycle, audited


def audit_rows(db: psycopg.Connection, org: Org) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT action, actor_user_id, target_id, details->>'name', details->>'project_id'"
        " FROM audit_log WHERE organization_id = %s AND action LIKE 'dashboard.%%' ORDER BY id",
        (org.organization_id,),
    ).fetchall()


def test_create_read_replace_delete_and_the_audit_log(
    api: ApiCaller, org: Org, db: psycopg.Connection
) -> None:
    member = org.members["member"]
    body = dashboard(
        "Checkout",
        range="7d",
        widgets=[
            widget(
                "funnel",
                title="Checkouts by plan",
                kind="bar",
                metric="users",
                filters={
                    "name": ["checkout_completed"],
                    "environment": ["production"],
                    "properties": [{"key": "plan", "values": ["pro", "team"]}],
                },
                group_by={"by": "property", "key": "plan"},
                range="30d",
                top=3,
                layout={"x": 6, "y": 2, "w": 6, "h": 5},
            ),
            widget("n", kind="number", layout={"x": 0, "y": 0, "w": 3, "h": 2}),
        ],
    )
    created = api("POST", dashboards(org), token=member.token, json=body)
    assert created.status == 201, created.body
    saved = created.body
    assert saved["created_by"] == str(member.user_id)
    assert saved["range"] == "7d"
    first = saved["widgets"][0]
    assert first["group_by"] == {"by": "property", "key": "plan"}
    assert first["filters"]["properties"] == [{"key": "plan", "values": ["pro", "team"]}]
    assert first["layout"] == {"x": 6, "y": 2, "w": 6, "h": 5}

    path = dashboards(org, f"/{saved['id']}")
    read = api("GET", path, token=org.members["viewer"].token)
    assert read.body == saved

    body["name"] = "Checkout (new)"
    body["widgets"] = body["widgets"][1:]
    replaced = api("PUT", path, token=member.token, json=body)
    assert replaced.status == 200, replaced.body
    assert replaced.body["name"] == "Checkout (new)"
    assert [w["id"] for w in replaced.body["widgets"]] == ["n"]
    assert replaced.body["updated_at"] > saved["updated_at"]
    assert replaced.body["created_at"] == saved["created_at"]

    assert api("DELETE", path, token=member.token).status == 204
    assert api("GET", path, token=member.token).status == 404
    assert api("DELETE", path, token=member.token).status == 404

    rows = audit_rows(db, org)
    assert [r[0] for r in rows] == ["dashboard.created", "dashboard.updated", "dashboard.deleted"]
    assert {r[1] for r in rows} == {member.user_id}
    assert {r[2] for r in rows} == {saved["id"]}
    assert [r[3] for r in rows] == ["Checkout", "Checkout (new)", "Checkout (new)"]
    assert {r[4] for r in rows} == {str(org.project_id)}
    # The admins see them in the audit API.
    audit = api(
        "GET",
        f"/api/organizations/{org.organization_id}/audit",
        token=org.members["admin"].token,
        query="action=dashboard.*",
    )
    assert audit.status == 200
    assert len(audit.body["data"]) == 3


def test_refused_writes_leave_no_audit_entry(
    api: ApiCaller, org: Org, db: psycopg.Connection
) -> None:
    dashboard_id = default_id(api, org)
    api(
        "PUT",
        dashboards(org, f"/{dashboard_id}"),
        token=org.members["viewer"].token,
        json=dashboard(),
    )
    api("POST", dashboards(org), token=org.members["member"].token, json={"name": ""})
    api("DELETE", dashboards(org, f"/{uuid.uuid4()}"), token=org.members["member"].token)
    assert audit_rows(db, org) == []


def test_a_project_holds_a_bounded_number_of_dashboards(api: ApiCaller, org: Org) -> None:
    token = org.members["member"].token
    for i in range(MAX_DASHBOARDS - 1):  # the default is one
        assert api("POST", dashboards(org), token=token, json={"name": f"d{i}"}).status == 201
    reply = api("POST", dashboards(org), token=token, json={"name": "one too many"})
    assert reply.status == 409
    assert reply.error["code"] == "too_many_dashboards"
    assert len(api("GET", dashboards(org), token=token).body["data"]) == MAX_DASHBOARDS


# Tenancy


def test_another_organizations_dashboards_are_not_found(
    api: ApiCaller, org: Org, other: Org
) -> None:
    theirs = default_id(api, other)
    for role, member in org.members.items():
        token = member.token
        # Their project, and their dashboard under our project: both 404, never 403.
        for path in (
            dashboards(other),
            dashboards(other, f"/{theirs}"),
            dashboards(other, "/query"),
        ):
            reply = api("GET", path, token=token)
            assert reply.status == 404, (role, path, reply.body)
        assert api("GET", dashboards(org, f"/{theirs}"), token=token).status == 404
        for method, body in (("PUT", dashboard()), ("DELETE", None)):
            reply = api(method, dashboards(other, f"/{theirs}"), token=token, json=body)
            assert reply.status == 404, (role, method, reply.body)
            # Under our own project: not found, or (viewers) refused before anything is read.
            reply = api(method, dashboards(org, f"/{theirs}"), token=token, json=body)
            assert reply.status == (403 if role == "viewer" else 404), (role, method, reply.body)
        reply = api("POST", dashboards(other), token=token, json=dashboard())
        assert reply.status == 404, (role, reply.body)
    # Nothing of theirs changed.
    listed = api("GET", dashboards(other), token=other.members["viewer"].token).body["data"]
    assert [d["id"] for d in listed] == [theirs]
    assert listed[0]["name"] == "Overview"


# Validation: 422 naming the field, never a 500


def grid(count: int) -> list[dict[str, Any]]:
    return [widget(f"w{i}", layout={"x": 0, "y": i, "w": 1, "h": 1}) for i in range(count)]


BAD_BODIES = [
    ({"name": ""}, "body.name"),
    ({"name": "x" * 101}, "body.name"),
    ({"name": "x", "range": "2y"}, "body.range"),
    ({"name": "x", "colour": "red"}, "body.colour"),
    ({"name": "x", "widgets": grid(MAX_WIDGETS + 1)}, "body.widgets"),
    ({"name": "x", "widgets": [widget("a"), widget("a")]}, "body.widgets"),
    ({"name": "x", "widgets": [widget("a b")]}, "body.widgets.0.id"),
    ({"name": "x", "widgets": [widget(kind="pie")]}, "body.widgets.0.kind"),
    ({"name": "x", "widgets": [widget(metric="p95")]}, "body.widgets.0.metric"),
    ({"name": "x", "widgets": [widget(title="t" * 101)]}, "body.widgets.0.title"),
    ({"name": "x", "widgets": [widget(top=21)]}, "body.widgets.0.top"),
    ({"name": "x", "widgets": [widget(extra=1)]}, "body.widgets.0.extra"),
    (
        {"name": "x", "widgets": [widget(layout={"x": 8, "y": 0, "w": 6, "h": 2})]},
        "body.widgets.0.layout",
    ),
    (
        {"name": "x", "widgets": [widget(layout={"x": 0, "y": 0, "w": 13, "h": 2})]},
        "body.widgets.0.layout.w",
    ),
    (
        {"name": "x", "widgets": [widget(layout={"x": 0, "y": -1, "w": 1, "h": 2})]},
        "body.widgets.0.layout.y",
    ),
    ({"name": "x", "widgets": [widget(layout={"x": 0, "y": 0})]}, "body.widgets.0.layout.w"),
    (
        {"name": "x", "widgets": [widget(group_by={"by": "property"})]},
        "body.widgets.0.group_by",
    ),
    (
        {"name": "x", "widgets": [widget(group_by={"by": "name", "key": "plan"})]},
        "body.widgets.0.group_by",
    ),
    (
        {"name": "x", "widgets": [widget(kind="number", group_by={"by": "name"})]},
        "body.widgets.0",
    ),
    (
        {"name": "x", "widgets": [widget(filters={"type": ["x"] * 21})]},
        "body.widgets.0.filters.type",
    ),
    (
        {"name": "x", "widgets": [widget(filters={"name": [""]})]},
        "body.widgets.0.filters.name.0",
    ),
    (
        {"name": "x", "widgets": [widget(filters={"user": ["u1"]})]},
        "body.widgets.0.filters.user",
    ),
    (
        {
            "name": "x",
            "widgets": [
                widget(
                    filters={
                        "properties": [{"key": "a", "values": ["1"]}, {"key": "a", "values": ["2"]}]
                    }
                )
            ],
        },
        "body.widgets.0.filters.properties",
    ),
    (
        {"name": "x", "widgets": [widget(filters={"properties": [{"key": "a", "values": []}]})]},
        "body.widgets.0.filters.properties.0.values",
    ),
    ({"name": "x\u0000"}, "body.name"),
    ({"name": "x", "widgets": "all"}, "body.widgets"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_definitions_are_422_naming_the_field(
    api: ApiCaller, org: Org, body: dict[str, Any], field: str | None
) -> None:
    token = org.members["member"].token
    dashboard_id = default_id(api, org)
    for method, path in (("POST", dashboards(org)), ("PUT", dashboards(org, f"/{dashboard_id}"))):
        reply = api(method, path, token=token, json=body)
        assert reply.status == 422, (method, reply.body)
        assert reply.error["code"] == "invalid_field"
        if field is not None:
            assert reply.error["field"] == field, reply.error
    # Nothing was stored or changed.
    listed = api("GET", dashboards(org), token=token).body["data"]
    assert [d["name"] for d in listed] == ["Overview"]


def test_an_integer_beyond_64_bits_is_422(api: ApiCaller, org: Org) -> None:
    body = json.dumps(
        {"name": "x", "widgets": [widget(layout={"x": 0, "y": 0, "w": 2**70, "h": 1})]}
    )
    reply = api("POST", dashboards(org), token=org.members["member"].token, raw=body.encode())
    assert reply.status == 422, reply.body
    assert reply.error["field"] == "body.widgets.0.layout.w"


def test_a_body_that_is_not_json_is_4xx(api: ApiCaller, org: Org) -> None:
    reply = api(
        "POST",
        dashboards(org),
        token=org.members["member"].token,
        raw=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert 400 <= reply.status < 500
    assert "error" in reply.body


# Widget data


@pytest.fixture
def shop(processor: BatchProcessor, org: Org) -> Org:
    """2026-11-20 (UTC), hours 10 and 11:
    10:05 checkout u1 production plan=pro, checkout u2 production plan=team
    10:20 checkout u1 staging plan=pro, signup u3 production
    11:30 checkout u4 production plan=pro (release 2.0), error (no user) production
    """
    d = "2026-11-20T"
    specs = [
        event(d + "10:05:00Z", "checkout", user={"id": "u1"}, environment="production",
              properties={"plan": "pro"}),
        event(d + "10:05:10Z", "checkout", user={"id": "u2"}, environment="production",
              properties={"plan": "team"}),
        event(d + "10:20:00Z", "checkout", user={"id": "u1"}, environment="staging",
              properties={"plan": "pro"}),
        event(d + "10:20:30Z", "signup", user={"id": "u3"}, environment="production"),
        event(d + "11:30:00Z", "checkout", user={"id": "u4"}, environment="production",
              properties={"plan": "pro"}, release="2.0"),
        {"type": "error", "timestamp": d + "11:30:10Z", "environment": "production",
         "error": {"type": "TypeError"}},
    ]  # fmt: skip
    assert ingest(processor, org.project_id, specs) == len(specs)
    return org


RANGE = {"from": "2026-11-20T10:00:00Z", "to": "2026-11-20T13:00:00Z", "bucket": "1h"}


def data(api: ApiCaller, org: Org, **params: Any) -> Reply:
    pairs: list[tuple[str, str]] = []
    for key, value in {**RANGE, **params}.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((key, str(item)))
    return api(
        "GET", dashboards(org, "/query"), token=org.members["viewer"].token, query=urlencode(pairs)
    )


def by_key(body: dict[str, Any]) -> dict[Any, tuple[int, list[int]]]:
    return {
        ("other" if s["other"] else s["key"]): (s["total"], s["values"]) for s in body["series"]
    }


def test_counts_from_the_rollups_zero_filled(api: ApiCaller, shop: Org) -> None:
    reply = data(api, shop)
    assert reply.status == 200, reply.body
    body = reply.body
    assert body["source"] == "rollups"
    assert len(body["buckets"]) == 3
    assert by_key(body) == {"total": (6, [4, 2, 0])}
    grouped = data(api, shop, group_by="name", top=1).body
    assert by_key(grouped) == {"checkout": (4, [3, 1, 0]), "other": (2, [1, 1, 0])}
    # The same numbers as the statistics endpoint, which reads the same rollups.
    stats = api(
        "GET",
        f"/api/projects/{shop.project_id}/stats/timeseries",
        token=shop.members["viewer"].token,
        query=urlencode({**RANGE, "group_by": "name", "top": 1}),
    ).body
    assert [s["values"] for s in stats["series"]] == [s["values"] for s in grouped["series"]]


def test_environment_and_property_filters_count_the_events(api: ApiCaller, shop: Org) -> None:
    body = data(api, shop, name="checkout", environment="production").body
    assert body["source"] == "events"
    assert by_key(body) == {"total": (3, [2, 1, 0])}
    pro = data(api, shop, **{"prop.plan": "pro"}).body
    assert by_key(pro) == {"total": (3, [2, 1, 0])}
    both = data(api, shop, **{"prop.plan": ["pro", "team"], "environment": "production"}).body
    assert by_key(both) == {"total": (3, [2, 1, 0])}


def test_groups_by_environment_and_by_property(api: ApiCaller, shop: Org) -> None:
    envs = data(api, shop, group_by="environment").body
    assert by_key(envs) == {"production": (5, [3, 2, 0]), "staging": (1, [1, 0, 0])}
    plans = data(api, shop, group_by="property", group_property="plan").body
    # Events without the property are the group with no key.
    assert by_key(plans) == {"pro": (3, [2, 1, 0]), None: (2, [1, 1, 0]), "team": (1, [1, 0, 0])}
    top = data(api, shop, group_by="property", group_property="plan", top=1).body
    assert by_key(top) == {"pro": (3, [2, 1, 0]), "other": (3, [2, 1, 0])}


def test_unique_users(api: ApiCaller, shop: Org) -> None:
    # Without filters: the user rollups; the total is distinct users over the range.
    plain = data(api, shop, metric="users", bucket="1m", to="2026-11-20T12:00:00Z").body
    assert plain["source"] == "rollups"
    assert plain["series"][0]["total"] == 4
    assert sum(plain["series"][0]["values"]) == 5  # u1 in two minutes
    # Filtered or grouped: distinct users from the events.
    checkout = data(api, shop, metric="users", name="checkout").body
    assert checkout["source"] == "events"
    assert by_key(checkout) == {"total": (3, [2, 1, 0])}
    envs = data(api, shop, metric="users", group_by="environment").body
    assert by_key(envs) == {"production": (4, [3, 1, 0]), "staging": (1, [1, 0, 0])}


BAD_QUERIES = [
    ({"metric": "p95"}, "query.metric"),
    ({"group_by": "user"}, "query.group_by"),
    ({"group_by": "property"}, "query.group_property"),
    ({"group_by": "name", "group_property": "plan"}, "query.group_property"),
    ({"group_property": "plan"}, "query.group_property"),
    ({"top": 0}, "query.top"),
    ({"range": "2y"}, "query.range"),
    ({"type": ""}, "query.type"),
    ({"prop.plan": ""}, "query.prop"),
    ({f"prop.k{i}": "v" for i in range(11)}, "query.prop"),
    ({"from": "2026-11-20T13:00:00Z"}, "query.to"),
    ({"bucket": "1m", "from": "2026-01-01T00:00:00Z"}, "query.bucket"),
    ({"tz": "Mars/Olympus"}, "query.tz"),
]


@pytest.mark.parametrize(("params", "field"), BAD_QUERIES)
def test_bad_widget_queries_are_422_naming_the_field(
    api: ApiCaller, org: Org, params: dict[str, Any], field: str
) -> None:
    reply = data(api, org, **params)
    assert reply.status == 422, reply.body
    assert reply.error["field"] == field, reply.error


def test_a_replace_of_a_version_someone_changed_meanwhile_is_409(
    api: ApiCaller, org: Org, other: Org, db: psycopg.Connection
) -> None:
    token = org.members["member"].token
    created = api("POST", dashboards(org), token=token, json=dashboard("v1")).body
    assert created["version"] == 1
    path = dashboards(org, f"/{created['id']}")
    first = api("PUT", path, token=token, json=dashboard("v2"), query="version=1")
    assert first.status == 200 and first.body["version"] == 2
    # A second editor still holding version 1.
    stale = api("PUT", path, token=token, json=dashboard("lost"), query="version=1")
    assert stale.status == 409, stale.body
    assert stale.error == {
        "code": "version_conflict",
        "message": "the dashboard changed since it was read; read it again",
        "field": "query.version",
    }
    assert api("GET", path, token=token).body["name"] == "v2"
    # Without a version the last write wins.
    last = api("PUT", path, token=token, json=dashboard("v3"))
    assert last.status == 200 and last.body["version"] == 3
    assert [r[3] for r in audit_rows(db, org)] == ["v1", "v2", "v3"]
    # Someone else's dashboard is not found, whatever the version.
    theirs = default_id(api, other)
    reply = api(
        "PUT", dashboards(org, f"/{theirs}"), token=token, json=dashboard(), query="version=1"
    )
    assert reply.status == 404
    bad = api("PUT", path, token=token, json=dashboard(), query="version=0")
    assert bad.status == 422 and bad.error["field"] == "query.version"
