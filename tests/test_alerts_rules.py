"""Every rule kind against events written through the real processor, evaluated with a
controlled clock: fires, repeats only after the cooldown, resolves, respects snooze and digest;
two overlapping evaluations notify once.

The module has a database of its own, since a run evaluates every due rule of the database."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from logsight.alerting.delivery import Sender
from logsight.alerting.engine import AlertEngine, RunResult
from logsight.config import Settings
from logsight.storage.issues import set_status
from logsight.storage.projects import CreatedProject, create_project
from logsight.tenancy import alerts as writes
from tests.alert_helpers import BOX, add_channel, alert_settings, write_events
from tests.conftest import migrated_database
from tests.support.receivers import Receiver, receiver

SECRET = "0123456789abcdef-signing"
# The controlled clock: two hours ago, on a minute.
T = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)


def at(moment: datetime) -> str:
    return moment.isoformat()


@pytest.fixture(scope="module")
def alert_db() -> Iterator[str]:
    with migrated_database("logsight_alerts") as url:
        yield url


@pytest.fixture
def conn(alert_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(alert_db, autocommit=True) as connection:
        yield connection
        # Rules of one test are not evaluated by the next.
        connection.execute("DELETE FROM alert_rules")


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as found:
        yield found


@pytest.fixture
def s(settings: Settings, alert_db: str) -> Settings:
    return alert_settings(settings, database_url=alert_db)


@pytest.fixture
def engine(s: Settings) -> AlertEngine:
    return AlertEngine(s, box=BOX, sender=Sender(s))


@pytest.fixture
def proj(conn: psycopg.Connection) -> CreatedProject:
    return create_project(conn, f"shop {uuid.uuid4().hex[:6]}")


def make_rule(
    conn: psycopg.Connection,
    project: CreatedProject,
    hook: Receiver,
    condition: dict[str, Any],
    **fields: Any,
) -> UUID:
    channel = add_channel(
        conn, project.id, "webhook", {"url": f"{hook.url}/in", "signing_secret": SECRET}
    )
    values = {
        "name": f"rule {condition['kind']}",
        "kind": condition["kind"],
        "condition": condition,
        "window_seconds": 300,
        "interval_seconds": 60,
        "cooldown_seconds": 3600,
        **fields,
    }
    return writes.create_rule(conn, project.id, values, [channel], None)


def kinds(hook: Receiver) -> list[str]:
    return [request.json()["kind"] for request in hook.requests]


def history(conn: psycopg.Connection, rule_id: UUID) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT kind FROM alert_history WHERE rule_id = %s ORDER BY id", (rule_id,)
        ).fetchall()
    ]


def run(engine: AlertEngine, conn: psycopg.Connection, now: datetime) -> RunResult:
    return engine.run(conn, now)


def errors(count: int, when: datetime, value: str = "cart", **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "type": "error",
            "timestamp": at(when),
            "error": {"type": "KeyError", "value": value},
            **extra,
        }
        for _ in range(count)
    ]


def test_threshold_fires_repeats_after_the_cooldown_and_resolves(
    conn: psycopg.Connection,
    alert_db: str,
    engine: AlertEngine,
    proj: CreatedProject,
    hook: Receiver,
) -> None:
    rule = make_rule(
        conn,
        proj,
        hook,
        {"kind": "threshold", "op": "above", "threshold": 3, "filter": {"type": "error"}},
        window_seconds=600,
        cooldown_seconds=120,
    )
    # Matching and non-matching events; only the errors count.
    write_events(alert_db, proj.id, *errors(5, T - timedelta(minutes=2)))
    write_events(alert_db, proj.id, *[{"name": "click", "timestamp": at(T)} for _ in range(9)])
    run(engine, conn, T)
    assert kinds(hook) == ["firing"]
    body = hook.requests[0].json()
    assert body["entries"][0]["value"] == 5 and body["entries"][0]["threshold"] == 3
    run(engine, conn, T + timedelta(minutes=1))  # within the cooldown
    assert kinds(hook) == ["firing"]
    run(engine, conn, T + timedelta(minutes=2))  # the cooldown has passed
    assert kinds(hook) == ["firing", "repeat"]
    run(engine, conn, T + timedelta(minutes=9))  # the errors left the window
    assert kinds(hook) == ["firing", "repeat", "resolved"]
    assert history(conn, rule) == ["firing", "repeat", "resolved"]


def test_threshold_below_and_unique_users(
    conn: psycopg.Connection,
    alert_db: str,
    engine: AlertEngine,
    proj: CreatedProject,
    hook: Receiver,
) -> None:
    below = make_rule(
        conn,
        proj,
        hook,
        {"kind": "threshold", "op": "below", "threshold": 3, "filter": {"name": "signup"}},
    )
    users = make_rule(
        conn, proj, hook, {"kind": "threshold", "metric": "unique_users", "threshold": 2}
    )
    write_events(
        alert_db,
        proj.id,
        *[
            {"name": "signup", "timestamp": at(T - timedelta(minutes=1)), "user": {"id": f"u{i}"}}
            for i in range(2)
        ],
    )
    run(engine, conn, T)
    assert history(conn, below) == ["firing"] and history(conn, users) == []
    write_events(
        alert_db,
        proj.id,
        *[{"name": "signup", "timestamp": at(T), "user": {"id": f"u{i}"}} for i in range(2, 4)],
    )
    run(engine, conn, T + timedelta(minutes=1))
    assert history(conn, below) == ["firing", "resolved"] and history(conn, users) == ["firing"]


def test_change_against_the_same_window_a_week_earlier(
    conn: psycopg.Connection,
    alert_db: str,
    engine: AlertEngine,
    proj: CreatedProject,
    hook: Receiver,
) -> None:
    rule = make_rule(
        conn,
        proj,
        hook,
        {
            "kind": "change",
            "compare_to": "week",
            "direction": "drop",
            "percent": 60,
            "min_baseline": 10,
            "filter": {"name": "signup"},
        },
        window_seconds=3600,
    )
    week = timedelta(days=7)
    write_events(
        alert_db,
        proj.id,
        *[{"name": "signup", "timestamp": at(T - week - timedelta(minutes=5))} for _ in range(20)],
    )
    write_events(
        alert_db,
        proj.id,
        *[{"name": "signup", "timestamp": at(T - timedelta(minutes=5))} for _ in range(5)],
    )
    run(engine, conn, T)
    assert history(conn, rule) == ["firing"]
    entry = hook.requests[0].json()["entries"][0]
    assert entry["value"] == -75.0 and "-75%" in entry["summary"]
    write_events(
        alert_db,
        proj.id,
        *[{"name": "signup", "timestamp": at(T - timedelta(minutes=4))} for _ in range(10)],
    )
    run(engine, conn, T + timedelta(minutes=1))
    assert history(conn, rule) == ["firing", "resolved"]


def test_error_rate_needs_the_minimum_volume(
    conn: psycopg.Connection,
    alert_db: str,
    engine: AlertEngine,
    proj: CreatedProject,
    hook: Receiver,
) -> None:
    rule = make_rule(
        conn,
        proj,
        hook,
        {"kind": "error_rate", "percent": 50, "min_events": 10, "release": "2.0"},
    )
    when = T - timedelta(minutes=1)
    write_events(alert_db, proj.id, *errors(4, when, release="2.0"))
    write_events(alert_db, proj.id, *[{"name": "x", "timestamp": at(when), "release": "2.0"}] * 3)
    # Another release's errors do not count.
    write_events(alert_db, proj.id, *errors(20, when, release="1.0"))
    run(engine, conn, T)
    assert history(conn, rule) == []  # 4 of 7: too few events
    write_events(alert_db, proj.id, *errors(3, when, release="2.0"))
    run(engine, conn, T + timedelta(minutes=1))
    assert history(conn, rule) == ["firing"]  # 7 of 10
    assert hook.requests[0].json()["entries"][0]["value"] == 70.0


def test_new_issue_and_regression(
    conn: psycopg.Connection,
    alert_db: str,
    engine: AlertEngine,
    proj: CreatedProject,
    hook: Receiver,
) -> None:
    new_rule = make_rule(conn, proj, hook, {"kind": "new_issue"})
    now = datetime.now(UTC)
    write_events(alert_db, proj.id, *errors(2, now, value="payment declined"))
    run(engine, conn, datetime.now(UTC))
    assert history(conn, new_rule) == ["firing"]
    assert "payment declined" in hook.requests[0].json()["entries"][0]["summary"]
    run(engine, conn, datetime.now(UTC) + timedelta(minutes=1))
    assert history(conn, new_rule) == ["firing"]  # nothing new

    issue = conn.execute("SELECT id FROM issues WHERE project_id = %s", (proj.id,)).fetchone()
    assert issue is not None
    back = make_rule(conn, proj, hook, {"kind": "regression", "issue_id": str(issue[0])})
    set_status(conn, proj.id, [issue[0]], "resolved", user_id=None)
    write_events(alert_db, proj.id, *errors(1, datetime.now(UTC), value="payment declined"))
    run(engine, conn, datetime.now(UTC) + timedelta(minutes=2))
    assert history(conn, back) == ["firing"]
    assert history(conn, new_rule) == ["firing"]  # the same issue again is not new


def test_issue_frequency(
    conn: psycopg.Connection,
    alert_db: str,
    engine: AlertEngine,
    proj: CreatedProject,
    hook: Receiver,
) -> None:
    rule = make_rule(
        conn, proj, hook, {"kind": "issue_frequency", "metric": "users", "threshold": 2}
    )
    when = T - timedelta(minutes=1)
    write_events(alert_db, proj.id, *[errors(1, when, user={"id": f"u{i}"})[0] for i in range(3)])
    write_events(alert_db, proj.id, *errors(5, when, value="other"))  # 5 events, no user
    run(engine, conn, T)
    assert history(conn, rule) == ["firing"]
    entry = hook.requests[0].json()["entries"][0]
    assert entry["value"] == 3 and "cart" in entry["summary"]


def test_absence_of_a_heartbeat(
    conn: psycopg.Connection,
    alert_db: str,
    engine: AlertEngine,
    proj: CreatedProject,
    hook: Receiver,
) -> None:
    rule = make_rule(conn, proj, hook, {"kind": "absence", "filter": {"name": "cron.nightly"}})
    write_events(
        alert_db, proj.id, {"name": "cron.nightly", "timestamp": at(T - timedelta(minutes=3))}
    )
    run(engine, conn, T)
    assert history(conn, rule) == []
    run(engine, conn, T + timedelta(minutes=3))
    assert history(conn, rule) == ["firing"]
    write_events(
        alert_db, proj.id, {"name": "cron.nightly", "timestamp": at(T + timedelta(minutes=3))}
    )
    run(engine, conn, T + timedelta(minutes=4))
    assert history(conn, rule) == ["firing", "resolved"]


def test_a_snoozed_rule_waits(
    conn: psycopg.Connection,
    alert_db: str,
    engine: AlertEngine,
    proj: CreatedProject,
    hook: Receiver,
) -> None:
    rule = make_rule(
        conn,
        proj,
        hook,
        {"kind": "absence", "filter": {"name": "never"}},
        snoozed_until=T + timedelta(minutes=10),
    )
    run(engine, conn, T)
    run(engine, conn, T + timedelta(minutes=5))
    assert history(conn, rule) == [] and hook.requests == []
    run(engine, conn, T + timedelta(minutes=10))
    assert history(conn, rule) == ["firing"]


def test_a_digest_sends_one_message_per_interval(
    conn: psycopg.Connection,
    alert_db: str,
    engine: AlertEngine,
    proj: CreatedProject,
    hook: Receiver,
) -> None:
    rule = make_rule(
        conn,
        proj,
        hook,
        {"kind": "absence", "filter": {"name": "beat"}},
        digest_seconds=600,
        window_seconds=900,
    )
    run(engine, conn, T)  # fires: held for the digest
    write_events(alert_db, proj.id, {"name": "beat", "timestamp": at(T + timedelta(minutes=1))})
    run(engine, conn, T + timedelta(minutes=2))  # resolves: held too
    run(engine, conn, T + timedelta(minutes=9))
    assert history(conn, rule) == ["firing", "resolved"] and hook.requests == []
    run(engine, conn, T + timedelta(minutes=10))
    assert kinds(hook) == ["digest"]
    digest = hook.requests[0].json()
    assert [e["kind"] for e in digest["entries"]] == ["firing", "resolved"]
    run(engine, conn, T + timedelta(minutes=11))
    assert kinds(hook) == ["digest"]


def test_overlapping_evaluations_and_a_retried_run_notify_once(
    conn: psycopg.Connection,
    alert_db: str,
    s: Settings,
    proj: CreatedProject,
    hook: Receiver,
) -> None:
    rule = make_rule(conn, proj, hook, {"kind": "absence", "filter": {"name": "none"}})
    start = threading.Barrier(4)
    results: list[RunResult] = []

    def evaluate() -> None:
        with psycopg.connect(alert_db, autocommit=True) as own:
            engine = AlertEngine(s, box=BOX, sender=Sender(s))
            start.wait()
            results.append(engine.run(own, T))

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(len(r.notifications) for r in results) == 1
    # The same scheduled event again (a retried invocation).
    AlertEngine(s, box=BOX, sender=Sender(s)).run(conn, T)
    assert history(conn, rule) == ["firing"]
    assert kinds(hook) == ["firing"]
    deliveries = conn.execute(
        "SELECT status FROM alert_deliveries d JOIN alert_notifications n"
        " ON n.id = d.notification_id WHERE n.rule_id = %s",
        (rule,),
    ).fetchall()
    assert deliveries == [("sent",)]


def test_the_scheduled_function_evaluates_with_the_events_time(
    conn: psycopg.Connection,
    alert_db: str,
    s: Settings,
    proj: CreatedProject,
    hook: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.alerts import handler as alerts_handler
    from logsight.alerting.scheduled import ScheduledAlerts
    from logsight.local.payloads import scheduled_event

    rule = make_rule(conn, proj, hook, {"kind": "absence", "filter": {"name": "none"}})
    monkeypatch.setattr(alerts_handler, "get_settings", lambda: s)
    monkeypatch.setattr(alerts_handler, "_alerts", ScheduledAlerts(s))
    monkeypatch.setattr(alerts_handler, "_redriver", None)
    event = scheduled_event("logsight-alerts")
    event["time"] = at(T).replace("+00:00", "Z")
    alerts_handler._alerts.engine._box = BOX  # type: ignore[union-attr]
    result = alerts_handler.handler(event, None)
    assert result["job"] == "alerts" and result["notifications"] == 1
    assert history(conn, rule) == ["firing"]
    evaluated = conn.execute(
        "SELECT last_evaluated_at FROM alert_rules WHERE id = %s", (rule,)
    ).fetchone()
    assert evaluated == (T,)
