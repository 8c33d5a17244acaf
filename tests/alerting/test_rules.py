"""Every rule kind against events written through the real processor, evaluated with a
controlled clock: fires, repeats only after the cooldown, resolves, respects snooze and digest;
two overlapping evaluations notify once.

The module has a database of its own, since a run evaluates every due rule of the database."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from logsight.alerting.delivery import Sender
from logsight.alerting.engine import AlertEngine, RunResult
from logsight.config import Settings
from logsight.storage import alerts as writes
from logsight.storage.issues import set_status
from logsight.storage.projects import CreatedProject, create_project
from tests.conftest import migrated_database
from tests.support.alerts import BOX, add_channel, alert_settings, write_events
from tests.support.receivers import Receiver, receiver

SECRET = "0123456789abcdef-signing"
# The controlled clock: two hours ago, on a minute.
T = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)


def at(moment: datetime) -> str:
    return moment.isoformat()


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture(scope="module")
def alert_db() -> Iterator[str]:
    with migrated_database("logsight_alerts") as url:
        yield url


@dataclass
class Scene:
    """A project with a webhook receiver, rules notifying it, and the engine run at chosen
    moments."""

    conn: psycopg.Connection
    database_url: str
    settings: Settings
    project: CreatedProject
    hook: Receiver

    def engine(self) -> AlertEngine:
        return AlertEngine(self.settings, box=BOX, sender=Sender(self.settings))

    def rule(self, condition: dict[str, Any], **fields: Any) -> UUID:
        channel = add_channel(
            self.conn,
            self.project.id,
            "webhook",
            {"url": f"{self.hook.url}/in", "signing_secret": SECRET},
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
        return writes.create_rule(self.conn, self.project.id, values, [channel], None)

    def write(self, *events: dict[str, Any]) -> None:
        write_events(self.database_url, self.project.id, *events)

    def run(self, now: datetime) -> RunResult:
        return self.engine().run(self.conn, now)

    def kinds(self) -> list[str]:
        """What the receiver was sent, in order."""
        return [request.json()["kind"] for request in self.hook.requests]

    def entry(self, index: int = 0) -> dict[str, Any]:
        found: dict[str, Any] = self.hook.requests[index].json()["entries"][0]
        return found

    def history(self, rule_id: UUID) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT kind FROM alert_history WHERE rule_id = %s ORDER BY id", (rule_id,)
            ).fetchall()
        ]


@pytest.fixture
def scene(settings: Settings, alert_db: str) -> Iterator[Scene]:
    with psycopg.connect(alert_db, autocommit=True) as conn, receiver() as hook:
        project = create_project(conn, f"shop {uuid.uuid4().hex[:6]}")
        yield Scene(conn, alert_db, alert_settings(settings, database_url=alert_db), project, hook)
        # Rules of one test are not evaluated by the next.
        conn.execute("DELETE FROM alert_rules")


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


def test_threshold_fires_repeats_after_the_cooldown_and_resolves(scene: Scene) -> None:
    rule = scene.rule(
        {"kind": "threshold", "op": "above", "threshold": 3, "filter": {"type": "error"}},
        window_seconds=600,
        cooldown_seconds=120,
    )
    # Matching and non-matching events; only the errors count.
    scene.write(*errors(5, T - minutes(2)))
    scene.write(*[{"name": "click", "timestamp": at(T)} for _ in range(9)])
    scene.run(T)
    assert scene.kinds() == ["firing"]
    body = scene.hook.requests[0].json()
    assert body["entries"][0]["value"] == 5 and body["entries"][0]["threshold"] == 3
    scene.run(T + minutes(1))  # within the cooldown
    assert scene.kinds() == ["firing"]
    scene.run(T + minutes(2))  # the cooldown has passed
    assert scene.kinds() == ["firing", "repeat"]
    scene.run(T + minutes(9))  # the errors left the window
    assert scene.kinds() == ["firing", "repeat", "resolved"]
    assert scene.history(rule) == ["firing", "repeat", "resolved"]


def test_threshold_below_and_unique_users(scene: Scene) -> None:
    below = scene.rule(
        {"kind": "threshold", "op": "below", "threshold": 3, "filter": {"name": "signup"}},
    )
    users = scene.rule({"kind": "threshold", "metric": "unique_users", "threshold": 2})
    scene.write(
        *[
            {"name": "signup", "timestamp": at(T - minutes(1)), "user": {"id": f"u{i}"}}
            for i in range(2)
        ],
    )
    scene.run(T)
    assert scene.history(below) == ["firing"] and scene.history(users) == []
    scene.write(
        *[{"name": "signup", "timestamp": at(T), "user": {"id": f"u{i}"}} for i in range(2, 4)],
    )
    scene.run(T + minutes(1))
    assert scene.history(below) == ["firing", "resolved"] and scene.history(users) == ["firing"]


def test_change_against_the_same_window_a_week_earlier(scene: Scene) -> None:
    rule = scene.rule(
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
    scene.write(
        *[{"name": "signup", "timestamp": at(T - week - minutes(5))} for _ in range(20)],
    )
    scene.write(
        *[{"name": "signup", "timestamp": at(T - minutes(5))} for _ in range(5)],
    )
    scene.run(T)
    assert scene.history(rule) == ["firing"]
    entry = scene.entry()
    assert entry["value"] == -75.0 and "-75%" in entry["summary"]
    scene.write(
        *[{"name": "signup", "timestamp": at(T - minutes(4))} for _ in range(10)],
    )
    scene.run(T + minutes(1))
    assert scene.history(rule) == ["firing", "resolved"]


def test_error_rate_needs_the_minimum_volume(scene: Scene) -> None:
    rule = scene.rule(
        {"kind": "error_rate", "percent": 50, "min_events": 10, "release": "2.0"},
    )
    when = T - minutes(1)
    scene.write(*errors(4, when, release="2.0"))
    scene.write(*[{"name": "x", "timestamp": at(when), "release": "2.0"}] * 3)
    # Another release's errors do not count.
    scene.write(*errors(20, when, release="1.0"))
    scene.run(T)
    assert scene.history(rule) == []  # 4 of 7: too few events
    scene.write(*errors(3, when, release="2.0"))
    scene.run(T + minutes(1))
    assert scene.history(rule) == ["firing"]  # 7 of 10
    assert scene.entry()["value"] == 70.0


def test_error_rate_per_release_fires_for_the_worst_release(scene: Scene) -> None:
    rule = scene.rule({"kind": "error_rate", "percent": 50, "min_events": 4, "per_release": True})
    when = T - minutes(1)
    # 3.0 is at 100% but too small; 2.0 at 60%; 1.0 at 10%: 2.0 fires.
    scene.write(*errors(3, when, release="3.0"))
    scene.write(
        *errors(3, when, release="2.0"),
        *[{"name": "x", "timestamp": at(when), "release": "2.0"}] * 2,
    )
    scene.write(
        *errors(1, when, release="1.0"),
        *[{"name": "x", "timestamp": at(when), "release": "1.0"}] * 9,
    )
    scene.run(T)
    assert scene.history(rule) == ["firing"]
    assert scene.entry()["value"] == 60.0 and "release '2.0'" in scene.entry()["summary"]


def test_new_issue_and_regression(scene: Scene) -> None:
    new_rule = scene.rule({"kind": "new_issue"})
    now = datetime.now(UTC)
    scene.write(*errors(2, now, value="payment declined"))
    scene.run(datetime.now(UTC))
    assert scene.history(new_rule) == ["firing"]
    assert "payment declined" in scene.entry()["summary"]
    scene.run(datetime.now(UTC) + minutes(1))
    assert scene.history(new_rule) == ["firing"]  # nothing new

    issue = scene.conn.execute(
        "SELECT id FROM issues WHERE project_id = %s", (scene.project.id,)
    ).fetchone()
    assert issue is not None
    back = scene.rule({"kind": "regression", "issue_id": str(issue[0])})
    set_status(scene.conn, scene.project.id, [issue[0]], "resolved", user_id=None)
    scene.write(*errors(1, datetime.now(UTC), value="payment declined"))
    scene.run(datetime.now(UTC) + minutes(2))
    assert scene.history(back) == ["firing"]
    assert scene.history(new_rule) == ["firing"]  # the same issue again is not new


def test_issue_frequency(scene: Scene) -> None:
    rule = scene.rule({"kind": "issue_frequency", "metric": "users", "threshold": 2})
    when = T - minutes(1)
    scene.write(*[errors(1, when, user={"id": f"u{i}"})[0] for i in range(3)])
    scene.write(*errors(5, when, value="other"))  # 5 events, no user
    scene.run(T)
    assert scene.history(rule) == ["firing"]
    entry = scene.entry()
    assert entry["value"] == 3 and "cart" in entry["summary"]


def test_absence_of_a_heartbeat(scene: Scene) -> None:
    rule = scene.rule({"kind": "absence", "filter": {"name": "cron.nightly"}})
    scene.write({"name": "cron.nightly", "timestamp": at(T - minutes(3))})
    scene.run(T)
    assert scene.history(rule) == []
    scene.run(T + minutes(3))
    assert scene.history(rule) == ["firing"]
    scene.write({"name": "cron.nightly", "timestamp": at(T + minutes(3))})
    scene.run(T + minutes(4))
    assert scene.history(rule) == ["firing", "resolved"]


def test_a_snoozed_rule_waits(scene: Scene) -> None:
    rule = scene.rule(
        {"kind": "absence", "filter": {"name": "never"}},
        snoozed_until=T + minutes(10),
    )
    scene.run(T)
    scene.run(T + minutes(5))
    assert scene.history(rule) == [] and scene.hook.requests == []
    scene.run(T + minutes(10))
    assert scene.history(rule) == ["firing"]


def test_a_digest_sends_one_message_per_interval(scene: Scene) -> None:
    rule = scene.rule(
        {"kind": "absence", "filter": {"name": "beat"}},
        digest_seconds=600,
        window_seconds=900,
    )
    scene.run(T)  # fires: held for the digest
    scene.write({"name": "beat", "timestamp": at(T + minutes(1))})
    scene.run(T + minutes(2))  # resolves: held too
    scene.run(T + minutes(9))
    assert scene.history(rule) == ["firing", "resolved"] and scene.hook.requests == []
    scene.run(T + minutes(10))
    assert scene.kinds() == ["digest"]
    digest = scene.hook.requests[0].json()
    assert [e["kind"] for e in digest["entries"]] == ["firing", "resolved"]
    scene.run(T + minutes(11))
    assert scene.kinds() == ["digest"]


def test_overlapping_evaluations_and_a_retried_run_notify_once(scene: Scene) -> None:
    rule = scene.rule({"kind": "absence", "filter": {"name": "none"}})
    start = threading.Barrier(4)
    results: list[RunResult] = []

    def evaluate() -> None:
        with psycopg.connect(scene.database_url, autocommit=True) as own:
            engine = scene.engine()
            start.wait()
            results.append(engine.run(own, T))

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(len(r.notifications) for r in results) == 1
    # The same scheduled event again (a retried invocation).
    scene.run(T)
    assert scene.history(rule) == ["firing"]
    assert scene.kinds() == ["firing"]
    deliveries = scene.conn.execute(
        "SELECT status FROM alert_deliveries d JOIN alert_notifications n"
        " ON n.id = d.notification_id WHERE n.rule_id = %s",
        (rule,),
    ).fetchall()
    assert deliveries == [("sent",)]


def test_the_scheduled_function_evaluates_with_the_events_time(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.alerts import handler as alerts_handler
    from logsight.alerting.scheduled import ScheduledAlerts
    from logsight.local.payloads import scheduled_event

    rule = scene.rule({"kind": "absence", "filter": {"name": "none"}})
    monkeypatch.setattr(alerts_handler, "get_settings", lambda: scene.settings)
    monkeypatch.setattr(alerts_handler, "_alerts", ScheduledAlerts(scene.settings))
    monkeypatch.setattr(alerts_handler, "_redriver", None)
    event = scheduled_event("logsight-alerts")
    event["time"] = at(T).replace("+00:00", "Z")
    alerts_handler._alerts.engine._box = BOX  # type: ignore[union-attr]
    result = alerts_handler.handler(event, None)
    assert result["job"] == "alerts" and result["notifications"] == 1
    assert scene.history(rule) == ["firing"]
    evaluated = scene.conn.execute(
        "SELECT last_evaluated_at FROM alert_rules WHERE id = %s", (rule,)
    ).fetchone()
    assert evaluated == (T,)


def test_the_scheduled_function_skips_a_minute_while_the_database_is_down(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A database outage is waited out by the next run, not reported as a failed invocation
    # (which the local scheduler logs with a traceback and EventBridge retries).
    from functions.alerts import handler as alerts_handler
    from logsight.alerting.scheduled import ScheduledAlerts
    from logsight.local.payloads import scheduled_event
    from tests.support.runtime import free_port

    down = scene.settings.model_copy(
        update={"database_url": f"postgresql://logsight@127.0.0.1:{free_port()}/logsight"}
    )
    monkeypatch.setattr(alerts_handler, "get_settings", lambda: down)
    monkeypatch.setattr(alerts_handler, "_alerts", ScheduledAlerts(down))
    monkeypatch.setattr(alerts_handler, "_redriver", None)
    with caplog.at_level("WARNING", logger="logsight.storage.faults"):
        result = alerts_handler.handler(scheduled_event("logsight-alerts"), None)
    assert result["job"] == "alerts" and result["skipped"] == "database unavailable"
    assert result["privacy_jobs"] is None
    assert any("alert evaluation skipped" in r.getMessage() for r in caplog.records)
