"""The logs API over lines the processor wrote: search (free text, key:value terms, time range,
keyset pages), one line in full, counts over time, the live tail, validation and tenancy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from logsight.ingest.otlp import log_event
from logsight.processing.batch import BatchProcessor
from tests.support.api import ApiCaller, Member
from tests.support.query import Tenant, event, ingest

# Fixtures: api, tenant, stranger, processor.
pytest_plugins = ["tests.support.query"]

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
TRACE = "5b8efff798038103d269b633813fc60c"


def otlp_line(
    minute: int, body: str | dict[str, str], service: str, severity: int, **attributes: Any
) -> dict[str, Any]:
    """A log event as OTLP ingest makes it, at BASE + minute."""
    value = (
        AnyValue(string_value=body)
        if isinstance(body, str)
        else AnyValue(
            kvlist_value=KeyValueList(
                values=[KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in body.items()]
            )
        )
    )
    when = BASE + timedelta(minutes=minute)
    record = LogRecord(
        body=value,
        severity_number=severity,  # type: ignore[arg-type]
        severity_text="",
        time_unix_nano=int(when.timestamp()) * 10**9,
        observed_time_unix_nano=int(when.timestamp()) * 10**9 + 7,
        trace_id=bytes.fromhex(TRACE) if minute == 0 else b"",
        attributes=[
            KeyValue(key=k, value=AnyValue(string_value=str(v))) for k, v in attributes.items()
        ],
    )
    resource = {"service.name": service, "deployment.environment": "prod", "host": "web-1"}
    line = log_event(record, resource, {"name": "app.module"})
    line["timestamp"] = when.isoformat()
    return line


@pytest.fixture
def lines(processor: BatchProcessor, tenant: Tenant) -> dict[str, str]:
    """Log lines (OTLP and a plain log event) beside one ordinary event; label → line id."""
    specs = {
        "declined": otlp_line(0, "card declined for order 17", "checkout", 17, order="17"),
        "slow": otlp_line(1, "slow query took 812 ms", "api", 13, table="orders"),
        "structured": otlp_line(2, {"op": "refund"}, "checkout", 9),
        "hit": otlp_line(3, "cache hit 100% for key_a", "api", 5),
        "plain": {
            "type": "log",
            "level": "info",
            "message": "snippet says hi",
            "timestamp": (BASE + timedelta(minutes=4)).isoformat(),
        },
        "event": event(BASE + timedelta(minutes=5), "signup"),
    }
    for label, spec in specs.items():
        spec["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant.project_id}/{label}"))
    assert ingest(processor, tenant.project_id, list(specs.values())) == len(specs)
    return {label: spec["event_id"] for label, spec in specs.items()}


def get(api: ApiCaller, tenant: Tenant, suffix: str, *pairs: tuple[str, str]) -> Any:
    reply = api("GET", tenant.path(suffix), token=tenant.viewer.token, query=urlencode(pairs))
    assert reply.status == 200, reply.body
    return reply.body


def found(api: ApiCaller, tenant: Tenant, lines: dict[str, str], q: str) -> list[str]:
    by_id = {v: k for k, v in lines.items()}
    return [by_id[row["id"]] for row in get(api, tenant, "/logs", ("q", q))["data"]]


def test_log_events_are_lines_not_events(
    api: ApiCaller, tenant: Tenant, lines: dict[str, str], db: psycopg.Connection
) -> None:
    assert found(api, tenant, lines, "") == ["plain", "hit", "structured", "slow", "declined"]
    events = get(api, tenant, "/events")["data"]
    assert [e["id"] for e in events] == [lines["event"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("declined", ["declined"]),
        ("DECLINED order", ["declined"]),
        ('"query took"', ["slow"]),
        ("100%", ["hit"]),
        ("key_a", ["hit"]),
        ("100_", []),
        ("service:checkout", ["structured", "declined"]),
        ("service:api service:checkout level:error", ["declined"]),
        ("level:warning", ["slow"]),
        ("level:debug", ["hit"]),
        ("table:orders", ["slow"]),
        ("order:17 card", ["declined"]),
        (f"trace_id:{TRACE}", ["declined"]),
        ("environment:prod logger:app.module level:info", ["structured"]),
        ("nothing-matches", []),
    ],
)
def test_search_terms(
    api: ApiCaller, tenant: Tenant, lines: dict[str, str], q: str, expected: list[str]
) -> None:
    assert found(api, tenant, lines, q) == expected


def test_time_range_and_keyset_pages(api: ApiCaller, tenant: Tenant, lines: dict[str, str]) -> None:
    window = (
        ("from", (BASE + timedelta(minutes=1)).isoformat()),
        ("to", (BASE + timedelta(minutes=4)).isoformat()),
    )
    first = get(api, tenant, "/logs", *window, ("limit", "2"))
    assert [r["id"] for r in first["data"]] == [lines["hit"], lines["structured"]]
    second = get(api, tenant, "/logs", *window, ("limit", "2"), ("cursor", first["next_cursor"]))
    assert [r["id"] for r in second["data"]] == [lines["slow"]]
    assert second["next_cursor"] is None


def test_one_line_in_full(api: ApiCaller, tenant: Tenant, lines: dict[str, str]) -> None:
    line = get(api, tenant, f"/logs/{lines['declined']}")
    assert (line["level"], line["severity_number"], line["service"]) == ("error", 17, "checkout")
    assert line["body"] == "card declined for order 17"
    assert line["trace_id"] == TRACE
    assert line["attributes"] == {"order": "17"}
    assert line["resource"] == {
        "service.name": "checkout",
        "deployment.environment": "prod",
        "host": "web-1",
    }
    assert line["scope"] == {"name": "app.module"}
    assert line["observed_at"] is not None
    structured = get(api, tenant, f"/logs/{lines['structured']}")
    assert structured["body_json"] == {"op": "refund"}
    missing = api("GET", tenant.path(f"/logs/{uuid.uuid4()}"), token=tenant.viewer.token)
    assert missing.status == 404


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("level", {("error", 1), ("warning", 1), ("info", 2), ("debug", 1)}),
        ("service", {("checkout", 2), ("api", 2), ("", 1)}),
    ],
)
def test_counts_by_level_or_service(
    api: ApiCaller, tenant: Tenant, lines: dict[str, str], by: str, expected: set[Any]
) -> None:
    rows = get(
        api,
        tenant,
        "/logs/counts",
        ("from", (BASE - timedelta(hours=1)).isoformat()),
        ("to", (BASE + timedelta(hours=1)).isoformat()),
        ("by", by),
        ("interval", "hour"),
    )
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["value"]] = totals.get(row["value"], 0) + row["lines"]
    assert set(totals.items()) == expected


def test_the_tail_tiles_time_like_the_live_feed(
    api: ApiCaller, tenant: Tenant, processor: BatchProcessor
) -> None:
    now = datetime.now(UTC) - timedelta(seconds=30)
    line = {"type": "log", "message": "tail me", "timestamp": now.isoformat()}
    ingest(processor, tenant.project_id, [line], received_at=now)
    first = get(api, tenant, "/logs/tail", ("q", "tail"))
    assert [r["body"] for r in first["lines"]] == ["tail me"]
    assert (first["total"], first["truncated"]) == (1, False)
    again = get(api, tenant, "/logs/tail", ("q", "tail"), ("cursor", first["cursor"]))
    assert again["lines"] == []
    assert again["from"] == first["to"]


@pytest.mark.parametrize(
    ("pairs", "status", "field"),
    [
        ((("q", '"unclosed'),), 422, "query.q"),
        ((("from", "2026-01-02T00:00:00Z"), ("to", "2026-01-01T00:00:00Z")), 422, "query.to"),
        ((("cursor", "garbage"),), 400, "cursor"),
        ((("limit", "0"),), 422, "query.limit"),
    ],
)
def test_bad_parameters_name_the_field(
    api: ApiCaller, tenant: Tenant, pairs: tuple[tuple[str, str], ...], status: int, field: str
) -> None:
    reply = api("GET", tenant.path("/logs"), token=tenant.viewer.token, query=urlencode(pairs))
    assert reply.status == status, reply.body
    assert reply.error["field"] == field


def test_counts_refuse_too_many_buckets(api: ApiCaller, tenant: Tenant) -> None:
    query = urlencode(
        {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "interval": "minute"}
    )
    reply = api("GET", tenant.path("/logs/counts"), token=tenant.viewer.token, query=query)
    assert (reply.status, reply.error["field"]) == (422, "query.interval")


@pytest.mark.parametrize("suffix", ["/logs", "/logs/tail", f"/logs/{uuid.uuid4()}"])
def test_another_organizations_member_sees_nothing(
    api: ApiCaller, tenant: Tenant, stranger: Member, lines: dict[str, str], suffix: str
) -> None:
    reply = api("GET", tenant.path(suffix), token=stranger.token)
    assert reply.status == 404
    assert api("GET", tenant.path("/logs")).status == 401
