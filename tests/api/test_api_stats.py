"""Time series and summaries against hand-computed fixtures, written through the processor so
the rollups are maintained exactly as in production."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest

from logsight.processing.batch import BatchProcessor
from logsight.query.timerange import Bucket, bucket_edges, choose_bucket, cover, zone
from tests.support.api import ApiCaller
from tests.support.query import Tenant, at, event, ingest

# Fixtures: api, tenant, stranger, processor.
pytest_plugins = ["tests.support.query"]


def get(api: ApiCaller, tenant: Tenant, path: str, **params: Any) -> dict[str, Any]:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = "from" if key == "from_" else key
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, str(item)))
    reply = api("GET", tenant.path(path), token=tenant.viewer.token, query=urlencode(pairs))
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body


def series(body: dict[str, Any]) -> dict[Any, list[int]]:
    return {("other" if s["other"] else s["key"]): s["values"] for s in body["series"]}


@pytest.fixture
def day(processor: BatchProcessor, tenant: Tenant) -> Tenant:
    """2026-11-20 (UTC):
    08:00 login u1, login u6, signup u6, checkout u1
    10:05 signup u1 (release 1.0), signup u2 (release 1.0), signup u1
    10:20 checkout u1, checkout u1
    11:00-12:00 nothing
    12:10 login u3, signup u4, TypeError (no user)
    12:59 pageview /pricing u5 twice (different URLs, same path)
    """
    d = "2026-11-20T"
    specs = [
        event(d + "08:00:00Z", "login", user={"id": "u1"}),
        event(d + "08:00:10Z", "login", user={"id": "u6"}),
        event(d + "08:00:20Z", "signup", user={"id": "u6"}),
        event(d + "08:00:30Z", "checkout", user={"id": "u1"}),
        event(d + "10:05:00Z", "signup", user={"id": "u1"}, release="1.0"),
        event(d + "10:05:10Z", "signup", user={"id": "u2"}, release="1.0"),
        event(d + "10:05:20Z", "signup", user={"id": "u1"}),
        event(d + "10:20:00Z", "checkout", user={"id": "u1"}),
        event(d + "10:20:30Z", "checkout", user={"id": "u1"}),
        event(d + "12:10:00Z", "login", user={"id": "u3"}),
        event(d + "12:10:10Z", "signup", user={"id": "u4"}),
        {"type": "error", "timestamp": d + "12:10:20Z", "error": {"type": "TypeError"}},
        {
            "type": "pageview",
            "timestamp": d + "12:59:00Z",
            "user": {"id": "u5"},
            "context": {"url": "https://shop.example/pricing?ref=ad"},
        },
        {
            "type": "pageview",
            "timestamp": d + "12:59:30Z",
            "user": {"id": "u5"},
            "context": {"url": "/pricing#plans"},
        },
    ]
    assert ingest(processor, tenant.project_id, specs) == len(specs)
    return tenant


RANGE = {"from_": "2026-11-20T10:00:00Z", "to": "2026-11-20T13:00:00Z"}
HOURLY = {**RANGE, "bucket": "1h"}


def test_counts_per_hour_zero_filled(api: ApiCaller, day: Tenant) -> None:
    body = get(api, day, "/stats/timeseries", **HOURLY)
    assert body["bucket"] == "1h"
    assert body["buckets"] == [
        "2026-11-20T10:00:00Z",
        "2026-11-20T11:00:00Z",
        "2026-11-20T12:00:00Z",
    ]
    assert (body["from"], body["to"]) == ("2026-11-20T10:00:00Z", "2026-11-20T13:00:00Z")
    assert body["series"] == [{"key": "total", "other": False, "total": 10, "values": [5, 0, 5]}]
    assert body["approximate"] is False


def test_group_by_name_keeps_the_top_and_sums_the_other(api: ApiCaller, day: Tenant) -> None:
    body = get(api, day, "/stats/timeseries", group_by="name", top=2, **HOURLY)
    # signup 4, then checkout and pageview tie at 2 (name breaks the tie), login 1, TypeError 1.
    assert series(body) == {"signup": [3, 0, 1], "checkout": [2, 0, 0], "other": [0, 0, 4]}
    assert [s["total"] for s in body["series"]] == [4, 2, 4]
    everything = get(api, day, "/stats/timeseries", group_by="name", top=20, **HOURLY)
    assert not any(s["other"] for s in everything["series"])
    assert len(everything["series"]) == 5


def test_group_by_release_level_and_type(api: ApiCaller, day: Tenant) -> None:
    by_release = get(api, day, "/stats/timeseries", group_by="release", **HOURLY)
    assert by_release["series"] == [
        {"key": None, "other": False, "total": 8, "values": [3, 0, 5]},
        {"key": "1.0", "other": False, "total": 2, "values": [2, 0, 0]},
    ]
    by_level = get(api, day, "/stats/timeseries", group_by="level", **HOURLY)
    assert series(by_level) == {"info": [5, 0, 4], "error": [0, 0, 1]}
    by_type = get(api, day, "/stats/timeseries", group_by="type", **HOURLY)
    assert series(by_type) == {"event": [5, 0, 2], "pageview": [0, 0, 2], "error": [0, 0, 1]}
    errors = get(api, day, "/stats/timeseries", type="error", **HOURLY)
    assert series(errors) == {"total": [0, 0, 1]}
    two_names = get(api, day, "/stats/timeseries", name=["login", "checkout"], **HOURLY)
    assert series(two_names) == {"total": [2, 0, 1]}


def test_minute_buckets_and_unique_users(api: ApiCaller, day: Tenant) -> None:
    minutes = get(
        api,
        day,
        "/stats/timeseries",
        from_="2026-11-20T10:04:00Z",
        to="2026-11-20T10:21:00Z",
    )
    assert minutes["bucket"] == "1m"
    assert len(minutes["buckets"]) == 17
    values = minutes["series"][0]["values"]
    assert (values[1], values[16], sum(values)) == (3, 2, 5)

    users = get(
        api,
        day,
        "/stats/timeseries",
        metric="users",
        from_="2026-11-20T10:00:00Z",
        to="2026-11-20T10:30:00Z",
        bucket="5m",
    )
    assert users["approximate"] is False
    assert users["series"][0]["values"] == [0, 2, 0, 0, 1, 0]
    assert users["series"][0]["total"] is None

    hourly = get(api, day, "/stats/timeseries", metric="users", **HOURLY)
    assert hourly["approximate"] is True
    # u1, u2 | nobody | u3, u4, u5 (the error has no user)
    assert hourly["series"][0]["values"] == [2, 0, 3]

    daily = get(
        api,
        day,
        "/stats/timeseries",
        metric="users",
        bucket="1d",
        from_="2026-11-19T00:00:00Z",
        to="2026-11-21T00:00:00Z",
    )
    assert daily["series"][0]["values"] == [0, 6]


def test_summary_totals_tops_and_trend(api: ApiCaller, day: Tenant) -> None:
    body = get(api, day, "/stats/summary", **RANGE)
    assert (body["events"], body["errors"], body["error_rate"]) == (10, 1, 0.1)
    assert (body["unique_users"], body["unique_users_approximate"]) == (5, False)
    assert body["top_events"] == [
        {"type": "event", "name": "signup", "events": 4},
        {"type": "event", "name": "checkout", "events": 2},
        {"type": "pageview", "name": "pageview", "events": 2},
        {"type": "error", "name": "TypeError", "events": 1},
        {"type": "event", "name": "login", "events": 1},
    ]
    assert body["top_pages"] == [{"path": "/pricing", "views": 2}]
    previous = body["previous"]
    assert (previous["from"], previous["to"]) == ("2026-11-20T07:00:00Z", "2026-11-20T10:00:00Z")
    assert (previous["events"], previous["errors"], previous["unique_users"]) == (4, 0, 2)
    assert previous["error_rate"] == 0.0
    assert body["change"] == {
        "events": 1.5,
        "errors": None,
        "error_rate": None,
        "unique_users": 1.5,
    }


def test_summary_ranges_mix_minutes_hours_and_days(api: ApiCaller, day: Tenant) -> None:
    # Minutes 10:04-11:00, hour 11-12, minutes 12:00-12:11 (the start's seconds are dropped).
    edges = get(api, day, "/stats/summary", from_="2026-11-20T10:04:30Z", to="2026-11-20T12:11:00Z")
    assert edges["from"] == "2026-11-20T10:04:00Z"
    assert (edges["events"], edges["errors"], edges["top_pages"]) == (8, 1, [])
    assert edges["unique_users"] == 4  # u1 u2 u3 u4

    # Longer than 6 hours: users are merged from day, hour and minute sketches.
    long = get(api, day, "/stats/summary", from_="2026-11-19T23:30:00Z", to="2026-11-20T12:15:00Z")
    assert long["unique_users_approximate"] is True
    assert long["unique_users"] == 5  # u1 u2 u3 u4 u6
    assert long["events"] == 4 + 5 + 3
    two_days = get(
        api, day, "/stats/summary", from_="2026-11-19T00:00:00Z", to="2026-11-21T00:00:00Z"
    )
    assert (two_days["events"], two_days["unique_users"]) == (14, 6)
    assert two_days["previous"]["events"] == 0
    assert two_days["change"]["events"] is None

    empty = get(api, day, "/stats/summary", from_="2026-11-01T00:00:00Z", to="2026-11-01T01:00:00Z")
    assert (empty["events"], empty["error_rate"], empty["top_events"]) == (0, None, [])


def test_berlin_day_buckets_across_the_autumn_change(
    api: ApiCaller, tenant: Tenant, processor: BatchProcessor
) -> None:
    # Summer time (+02) ends 2026-10-25 03:00 local, so Berlin's 25 October has 25 hours.
    stamps = {
        "2026-10-24T21:30:00Z": "24 Oct 23:30 CEST",
        "2026-10-24T22:30:00Z": "25 Oct 00:30 CEST",
        "2026-10-25T22:30:00Z": "25 Oct 23:30 CET",
        "2026-10-25T23:30:00Z": "26 Oct 00:30 CET",
    }
    ingest(
        processor,
        tenant.project_id,
        [event(t, "tick", user={"id": f"u{i}"}) for i, t in enumerate(stamps)],
    )
    body = get(
        api,
        tenant,
        "/stats/timeseries",
        tz="Europe/Berlin",
        bucket="1d",
        from_="2026-10-24T00:00:00",
        to="2026-10-27T00:00:00",
    )
    assert body["buckets"] == [
        "2026-10-24T00:00:00+02:00",
        "2026-10-25T00:00:00+02:00",
        "2026-10-26T00:00:00+01:00",
    ]
    assert body["to"] == "2026-10-27T00:00:00+01:00"
    assert body["series"][0]["values"] == [1, 2, 1]
    users = get(
        api,
        tenant,
        "/stats/timeseries",
        tz="Europe/Berlin",
        bucket="1d",
        metric="users",
        from_="2026-10-24T00:00:00",
        to="2026-10-27T00:00:00",
    )
    assert users["series"][0]["values"] == [1, 2, 1]
    # The same events by UTC day.
    utc = get(
        api,
        tenant,
        "/stats/timeseries",
        bucket="1d",
        from_="2026-10-24T00:00:00Z",
        to="2026-10-27T00:00:00Z",
    )
    assert utc["series"][0]["values"] == [2, 2, 0]
    # Hour buckets over the long day: 25 of them, each one hour.
    hours = get(
        api,
        tenant,
        "/stats/timeseries",
        tz="Europe/Berlin",
        bucket="1h",
        from_="2026-10-25T00:00:00",
        to="2026-10-26T00:00:00",
    )
    assert len(hours["buckets"]) == 25
    assert hours["buckets"][2:4] == ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"]
    assert hours["series"][0]["values"][0] == 1
    assert hours["series"][0]["values"][-1] == 1
    assert sum(hours["series"][0]["values"]) == 2


def test_new_york_days_and_the_repeated_hour(
    api: ApiCaller, tenant: Tenant, processor: BatchProcessor
) -> None:
    # Daylight time ends 2026-11-01 02:00 EDT → 01:00 EST: 01:00-02:00 happens twice.
    ingest(
        processor,
        tenant.project_id,
        [
            event("2026-11-01T04:30:00Z", "a"),  # 1 Nov 00:30 EDT
            event("2026-11-01T05:30:00Z", "b"),  # 1 Nov 01:30 EDT
            event("2026-11-01T06:30:00Z", "c"),  # 1 Nov 01:30 EST
            event("2026-11-02T04:30:00Z", "d"),  # 1 Nov 23:30 EST
            event("2026-11-02T05:30:00Z", "e"),  # 2 Nov 00:30 EST
        ],
    )
    days = get(
        api,
        tenant,
        "/stats/timeseries",
        tz="America/New_York",
        bucket="1d",
        from_="2026-11-01T00:00:00",
        to="2026-11-03T00:00:00",
    )
    assert days["buckets"] == ["2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"]
    assert days["series"][0]["values"] == [4, 1]
    hours = get(
        api,
        tenant,
        "/stats/timeseries",
        tz="America/New_York",
        bucket="1h",
        group_by="name",
        from_="2026-11-01T00:00:00",
        to="2026-11-01T03:00:00",
    )
    assert hours["buckets"] == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]
    assert series(hours) == {"a": [1, 0, 0, 0], "b": [0, 1, 0, 0], "c": [0, 0, 1, 0]}


def test_half_hour_zones_read_minutes(
    api: ApiCaller, tenant: Tenant, processor: BatchProcessor
) -> None:
    # India is UTC+05:30: its days start at 18:30 UTC, between hourly rollup buckets.
    ingest(
        processor,
        tenant.project_id,
        [
            event("2026-11-19T18:20:00Z", "x", user={"id": "a"}),  # 19 Nov 23:50 IST
            event("2026-11-19T18:40:00Z", "x", user={"id": "b"}),  # 20 Nov 00:10 IST
            event("2026-11-20T18:29:00Z", "x", user={"id": "a"}),  # 20 Nov 23:59 IST
        ],
    )
    params = {"tz": "Asia/Kolkata", "bucket": "1d", "from_": "2026-11-19", "to": "2026-11-21"}
    body = get(api, tenant, "/stats/timeseries", **params)
    assert body["buckets"] == ["2026-11-19T00:00:00+05:30", "2026-11-20T00:00:00+05:30"]
    assert body["series"][0]["values"] == [1, 2]
    users = get(api, tenant, "/stats/timeseries", metric="users", **params)
    assert users["series"][0]["values"] == [1, 2]
    hours = get(
        api,
        tenant,
        "/stats/timeseries",
        tz="Asia/Kolkata",
        bucket="1h",
        from_="2026-11-19T23:00:00",
        to="2026-11-20T01:00:00",
    )
    assert hours["buckets"] == ["2026-11-19T23:00:00+05:30", "2026-11-20T00:00:00+05:30"]
    assert hours["series"][0]["values"] == [1, 1]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tz": "Mars/Olympus"}, "query.tz"),
        (
            {"bucket": "1m", "from_": "2026-11-01T00:00:00Z", "to": "2026-11-08T00:00:00Z"},
            "query.bucket",
        ),
        ({"bucket": "2h"}, "query.bucket"),
        ({"metric": "users", "group_by": "name"}, "query.group_by"),
        ({"metric": "users", "type": "error"}, "query.metric"),
        ({"from_": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "query.to"),
        ({"top": "0"}, "query.top"),
    ],
)
def test_invalid_requests_are_422(
    api: ApiCaller, tenant: Tenant, params: dict[str, str], field: str
) -> None:
    pairs = [("from" if k == "from_" else k, v) for k, v in params.items()]
    reply = api(
        "GET", tenant.path("/stats/timeseries"), token=tenant.viewer.token, query=urlencode(pairs)
    )
    assert reply.status == 422, reply.body
    assert reply.error["field"] == field


# The time arithmetic on its own


def test_automatic_bucket_choice() -> None:
    start = at("2026-11-20T00:00:00Z")
    assert choose_bucket(start, start + timedelta(hours=1)) is Bucket.MINUTE
    assert choose_bucket(start, start + timedelta(hours=6)) is Bucket.FIVE_MINUTES
    assert choose_bucket(start, start + timedelta(days=1)) is Bucket.HOUR
    assert choose_bucket(start, start + timedelta(days=7)) is Bucket.HOUR
    assert choose_bucket(start, start + timedelta(days=30)) is Bucket.DAY


def test_edges_start_on_local_boundaries() -> None:
    berlin = zone("Europe/Berlin")
    edges = bucket_edges(
        at("2026-11-20T10:07:00Z"), at("2026-11-20T10:20:00Z"), Bucket.FIVE_MINUTES, berlin
    )
    assert edges[0] == at("2026-11-20T10:05:00Z")
    assert edges[-1] == at("2026-11-20T10:20:00Z")
    nepal = zone("Asia/Kathmandu")  # +05:45
    edges = bucket_edges(at("2026-11-20T10:00:00Z"), at("2026-11-20T12:00:00Z"), Bucket.HOUR, nepal)
    assert edges[0] == at("2026-11-20T09:15:00Z")


def test_cover_splits_into_days_hours_and_minutes() -> None:
    span = cover(at("2026-11-18T22:30:00Z"), at("2026-11-21T01:10:00Z"))
    assert span.minutes == [
        (at("2026-11-18T22:30:00Z"), at("2026-11-18T23:00:00Z")),
        (at("2026-11-21T01:00:00Z"), at("2026-11-21T01:10:00Z")),
    ]
    assert span.hours == [
        (at("2026-11-18T23:00:00Z"), at("2026-11-19T00:00:00Z")),
        (at("2026-11-21T00:00:00Z"), at("2026-11-21T01:00:00Z")),
    ]
    assert span.days == [(at("2026-11-19T00:00:00Z"), at("2026-11-21T00:00:00Z"))]
    short = cover(at("2026-11-18T22:30:00Z"), at("2026-11-18T22:40:00Z"))
    assert (short.days, short.hours) == ([], [])
    assert short.minutes == [(at("2026-11-18T22:30:00Z"), at("2026-11-18T22:40:00Z"))]
    no_days = cover(at("2026-11-18T22:30:00Z"), at("2026-11-21T01:10:00Z"), use_days=False)
    assert no_days.days == []
    assert no_days.hours == [(at("2026-11-18T23:00:00Z"), at("2026-11-21T01:00:00Z"))]


def test_absurd_ranges_are_422_not_500(api: ApiCaller, tenant: Tenant) -> None:
    for query in ("from=0001-01-01T00:00:00Z", "from=2020-01-01T00:00:00Z&to=9999-01-01T00:00:00Z"):
        for path in ("/stats/summary", "/stats/timeseries"):
            reply = api("GET", tenant.path(path), token=tenant.viewer.token, query=query)
            assert reply.status == 422, (path, query, reply.body)
            assert reply.error["field"] in ("query.from", "query.to")


def test_late_events_count_at_once(
    api: ApiCaller, processor: BatchProcessor, tenant: Tenant, db: psycopg.Connection
) -> None:
    """A statistic includes an event as soon as it is stored, whatever its timestamp: here two
    events dated 15 days ago that arrive now (an offline queue flushing), in both layouts."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    recent = [event(now - timedelta(minutes=3 + i), "view", user={"id": f"r{i}"}) for i in range(3)]
    ingest(processor, tenant.project_id, recent, received_at=now)
    month = {
        "from_": (now - timedelta(days=31)).isoformat(),
        "to": (now + timedelta(minutes=1)).isoformat(),
    }
    assert get(api, tenant, "/stats/summary", **month)["events"] == 3

    late_day = now - timedelta(days=15)
    late = [event(late_day + timedelta(minutes=i), "late", user={"id": f"l{i}"}) for i in range(2)]
    ingest(processor, tenant.project_id, late, received_at=now)

    stored = db.execute(
        "SELECT count(*), count(DISTINCT user_id) FROM events WHERE project_id = %s",
        (tenant.project_id,),
    ).fetchone()
    assert stored == (5, 5)
    summary = get(api, tenant, "/stats/summary", **month)
    assert (summary["events"], summary["unique_users"]) == stored
    assert {e["name"]: e["events"] for e in summary["top_events"]} == {"view": 3, "late": 2}
    daily = get(api, tenant, "/stats/timeseries", **month, bucket="1d")
    assert sum(daily["series"][0]["values"]) == 5
    users = get(api, tenant, "/stats/timeseries", **month, bucket="1d", metric="users")
    assert sum(users["series"][0]["values"]) == 5
    minutes = get(
        api,
        tenant,
        "/stats/timeseries",
        from_=late_day.isoformat(),
        to=(late_day + timedelta(minutes=5)).isoformat(),
        bucket="1m",
    )
    assert minutes["series"][0]["values"] == [1, 1, 0, 0, 0]
