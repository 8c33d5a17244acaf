"""Dead letters go back through the queue once the cause is fixed (by hand, or on their own after
an outage), and nothing doubles."""

from __future__ import annotations

import base64
import time
from typing import Any

import amqp
import psycopg
import pytest

from logsight.config import Settings
from logsight.local.payloads import rmq_event as aws_rmq_event
from logsight.local.payloads import rmq_message
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.queue.replay import Redriver, replay
from logsight.queue.topology import shard_for
from logsight.storage.db import Database
from logsight.storage.projects import CreatedProject
from tests.conftest import count_rows, drain, purge
from tests.support.api import ApiCaller
from tests.support.processor import message, rmq_event
from tests.support.tenancy import make_tenant

DLQ = "logsight.events.dead"
GAVE_UP = {"x-first-death-reason": {"bytes": list(b"delivery_limit")}}


@pytest.fixture
def processor(database_url: str) -> BatchProcessor:
    return BatchProcessor(Database(database_url), DLQ)


def redeliver(processor: BatchProcessor, queue: str, messages: list[amqp.Message]) -> Any:
    event = aws_rmq_event(
        queue,
        "/",
        [rmq_message(bytes(m.body), dict(m.properties), redelivered=False) for m in messages],
    )
    return processor.process(records_from_event(event))


def test_replay_after_an_outage(
    processor: BatchProcessor,
    project: CreatedProject,
    db: psycopg.Connection,
    broker: amqp.Channel,
    settings: Settings,
) -> None:
    purge(broker, settings)
    body = message(project.id, {"name": "lost-in-outage"}, {"name": "also-lost"})
    processor.process(records_from_event(rmq_event(DLQ, [body], headers=GAVE_UP)))
    poison = b"not a message"
    processor.process(records_from_event(rmq_event(DLQ, [poison], headers=GAVE_UP)))
    assert count_rows(db, "SELECT count(*) FROM events WHERE project_id = %s", project.id) == 0

    result = replay(db, settings, project_id=project.id)
    assert (result.replayed, result.skipped) == (1, 0)
    queue = settings.shard_queue(shard_for(project.id, settings.shards))
    republished = drain(broker, queue)
    assert [bytes(m.body) for m in republished] == [body]
    outcome = redeliver(processor, queue, republished)
    assert outcome.inserted == 2
    assert count_rows(db, "SELECT count(*) FROM events WHERE project_id = %s", project.id) == 2

    # Nothing is replayed twice; replaying a message that had (partly) arrived inserts nothing.
    assert replay(db, settings, project_id=project.id).replayed == 0
    db.execute("UPDATE dead_letters SET replayed_at = NULL WHERE raw = %s", (body,))
    assert replay(db, settings, project_id=project.id).replayed == 1
    assert redeliver(processor, queue, drain(broker, queue)).inserted == 0

    # The poison message is not a LogSight message: even --all skips it.
    everything = replay(
        db,
        settings,
        all_reasons=True,
        ids=[
            int(row[0])
            for row in db.execute("SELECT id FROM dead_letters WHERE raw = %s", (poison,))
        ],
    )
    assert (everything.replayed, everything.skipped) == (0, 1)


def test_a_replayed_message_that_fails_again_is_a_dead_letter_again(
    processor: BatchProcessor,
    project: CreatedProject,
    db: psycopg.Connection,
    broker: amqp.Channel,
    settings: Settings,
) -> None:
    purge(broker, settings)
    body = message(project.id, {"name": "x"})
    processor.process(records_from_event(rmq_event(DLQ, [body], headers=GAVE_UP)))
    assert replay(db, settings, project_id=project.id).replayed == 1
    replayed_at = db.execute(
        "SELECT replayed_at FROM dead_letters WHERE raw = %s", (body,)
    ).fetchone()
    assert replayed_at is not None and replayed_at[0] is not None
    # It runs out of deliveries once more: recorded again, ready for another replay.
    processor.process(records_from_event(rmq_event(DLQ, [body], headers=GAVE_UP)))
    row = db.execute(
        "SELECT count(*), max(replayed_at) FROM dead_letters WHERE raw = %s", (body,)
    ).fetchone()
    assert row == (1, None)
    drain(broker, settings.shard_queue(shard_for(project.id, settings.shards)))


def test_the_cli(
    project: CreatedProject,
    db: psycopg.Connection,
    processor: BatchProcessor,
    settings: Settings,
    broker: amqp.Channel,
) -> None:
    import os
    import subprocess
    import sys

    purge(broker, settings)
    body = message(project.id, {"name": "via-cli"})
    processor.process(records_from_event(rmq_event(DLQ, [body], headers=GAVE_UP)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGSIGHT_")}
    env |= {
        "LOGSIGHT_DATABASE_URL": settings.database_url or "",
        "LOGSIGHT_AMQP_URL": settings.amqp_url,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "logsight.cli",
            "dead-letters",
            "replay",
            "--project",
            str(project.id),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("replayed 1,")
    queue = settings.shard_queue(shard_for(project.id, settings.shards))
    assert [base64.b64encode(bytes(m.body)) for m in drain(broker, queue)] == [
        base64.b64encode(body)
    ]


# The automatic re-drive (the every-minute scheduled run)


@pytest.fixture
def clean_slate(db: psycopg.Connection, broker: amqp.Channel, settings: Settings) -> None:
    """The re-drive looks at the whole database: settle letters other tests left behind."""
    db.execute("UPDATE dead_letters SET replayed_at = now() WHERE replayed_at IS NULL")
    purge(broker, settings)


def redrive_now(settings: Settings) -> int | None:
    result = Redriver(settings).run()
    return None if result is None else result.replayed


def letter_row(db: psycopg.Connection, body: bytes) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT replayed_at IS NOT NULL, redrive_attempts FROM dead_letters WHERE raw = %s",
        (body,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_the_schedule_sends_back_what_ran_out_of_deliveries_and_nothing_doubles(
    clean_slate: None,
    processor: BatchProcessor,
    db: psycopg.Connection,
    broker: amqp.Channel,
    settings: Settings,
) -> None:
    tenant = make_tenant(db, settings.database_url or "")
    project = tenant.project_id
    queue = settings.shard_queue(shard_for(project, settings.shards))
    body = message(
        project,
        {"name": "outage", "user": {"id": "u1"}},
        {
            "type": "error",
            "name": "outage",
            "error": {"type": "Boom", "value": "outage"},
            "user": {"id": "u2"},
        },
    )
    # The message had made it once (its acknowledgement was lost), then ran out of deliveries.
    assert processor.process(records_from_event(rmq_event(queue, [body]))).inserted == 2
    processor.process(records_from_event(rmq_event(DLQ, [body], headers=GAVE_UP)))
    # A message rejected for its content is never sent back automatically.
    poison = message(project, {"name": "x"})[:-1]
    processor.process(records_from_event(rmq_event(queue, [poison])))

    api = ApiCaller(settings)
    try:
        path = f"/api/projects/{project}/dead-letters"
        listed = api("GET", path, token=tenant.members["admin"].token).body["data"]
        assert {(d["redrive"], d["redrive_attempts"]) for d in listed} == {
            ("scheduled", 0),
            ("manual", 0),
        }

        assert redrive_now(settings) == 1
        assert redrive_now(settings) == 0  # done once, and only once
        assert letter_row(db, body) == (True, 1)
        republished = drain(broker, queue)
        assert [bytes(m.body) for m in republished] == [body]
        assert redeliver(processor, queue, republished).inserted == 0

        listed = api("GET", path, token=tenant.members["admin"].token).body["data"]
        assert {(d["redrive"], d["redrive_attempts"]) for d in listed} == {
            ("redriven", 1),
            ("manual", 0),
        }
    finally:
        api.close()
    mine = "project_id = %s AND name = 'outage'"
    assert count_rows(db, f"SELECT count(*) FROM events WHERE {mine}", project) == 2
    # The counters come from inserted rows: not doubled by the second pass.
    assert count_rows(db, f"SELECT sum(events) FROM event_rollups_1m WHERE {mine}", project) == 2
    issue = db.execute(
        "SELECT events, users FROM issues WHERE project_id = %s AND error_type = 'Boom'",
        (project,),
    ).fetchall()
    assert issue == [(1, 1)]


def test_a_letter_that_keeps_failing_is_left_for_a_person(
    clean_slate: None,
    processor: BatchProcessor,
    db: psycopg.Connection,
    broker: amqp.Channel,
    settings: Settings,
    project: CreatedProject,
) -> None:
    settings = settings.model_copy(update={"redrive_attempts": 2, "redrive_backoff_seconds": 1})
    queue = settings.shard_queue(shard_for(project.id, settings.shards))
    body = message(project.id, {"name": "cursed"})

    def runs_out_of_deliveries() -> None:
        processor.process(records_from_event(rmq_event(DLQ, [body], headers=GAVE_UP)))

    runs_out_of_deliveries()
    assert redrive_now(settings) == 1
    drain(broker, queue)
    runs_out_of_deliveries()  # back again
    assert letter_row(db, body) == (False, 1)
    assert redrive_now(settings) == 0  # not before its pause (1 s after the first attempt)
    time.sleep(1.1)
    assert redrive_now(settings) == 1
    drain(broker, queue)
    runs_out_of_deliveries()
    time.sleep(2.1)
    # Two attempts were all it had: it waits for `logsight dead-letters replay`.
    assert redrive_now(settings) == 0
    assert letter_row(db, body) == (False, 2)
    assert drain(broker, queue) == []
    assert replay(db, settings, project_id=project.id).replayed == 1
    drain(broker, queue)


def test_nothing_is_lost_while_the_broker_is_away(
    clean_slate: None,
    processor: BatchProcessor,
    db: psycopg.Connection,
    broker: amqp.Channel,
    settings: Settings,
    project: CreatedProject,
) -> None:
    body = message(project.id, {"name": "patient"})
    processor.process(records_from_event(rmq_event(DLQ, [body], headers=GAVE_UP)))
    nowhere = settings.model_copy(update={"amqp_url": "amqp://guest:guest@127.0.0.1:1/%2F"})
    assert redrive_now(nowhere) is None
    assert letter_row(db, body) == (False, 0)  # no attempt spent
    assert redrive_now(settings) == 1
    drain(broker, settings.shard_queue(shard_for(project.id, settings.shards)))
