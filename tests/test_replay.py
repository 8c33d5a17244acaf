"""Dead letters go back through the queue once the cause is fixed, and nothing doubles."""

from __future__ import annotations

import base64
from typing import Any

import amqp
import psycopg
import pytest

from logsight.config import Settings
from logsight.local.payloads import rmq_event as aws_rmq_event
from logsight.local.payloads import rmq_message
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.queue.replay import replay
from logsight.queue.topology import shard_for
from logsight.storage.db import Database
from logsight.storage.projects import CreatedProject
from tests.conftest import count_rows, drain, purge
from tests.processor_helpers import message, rmq_event

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
