"""Alerting tests' shared parts: settings that let notifications reach loopback receivers, a
sealed channel, a notification delivered through the real deliverer, events written through the
real processor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from logsight.alerting.delivery import Deliverer, Outcome, Sender
from logsight.alerting.message import Entry, Notice
from logsight.alerting.secret_box import SecretBox
from logsight.config import Settings
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.storage import alerts as writes
from logsight.storage.db import Database
from tests.support.processor import message, rmq_event

BOX = SecretBox("test-key-" + "k" * 40)
LOOPBACK = "127.0.0.1/32,::1/128"


def alert_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(
        update={
            "alerts_allowed_networks": LOOPBACK,
            "alerts_http_timeout_seconds": 0.5,
            "alerts_retry_backoff_seconds": 0.01,
            **changes,
        }
    )


def add_channel(
    conn: psycopg.Connection,
    project_id: UUID,
    type: str,
    secret: dict[str, Any] | None,
    config: dict[str, Any] | None = None,
) -> UUID:
    return writes.create_channel(
        conn,
        project_id,
        name=f"{type}-{uuid.uuid4().hex[:6]}",
        type=type,
        config=config or {},
        secret=None if secret is None else BOX.seal(secret),
    )


def notice(kind: str = "firing", rule_id: UUID | None = None) -> Notice:
    now = datetime.now(UTC)
    return Notice(
        id=str(uuid.uuid4()),
        kind=kind,  # type: ignore[arg-type]
        project_id=str(uuid.uuid4()),
        project_name="shop",
        rule_id=str(rule_id or uuid.uuid4()),
        rule_name="Checkout errors",
        rule_kind="threshold",
        at=now,
        title=f"[{kind.upper()}] Checkout errors",
        entries=[
            Entry(
                kind="firing",
                at=now,
                summary="events: 120 (above 100 fires)",
                value=120,
                threshold=100,
            )
        ],
        link="http://127.0.0.1:8000/alerts/rule/?id=x",
    )


def deliver(
    conn: psycopg.Connection,
    settings: Settings,
    project_id: UUID,
    channel_ids: list[UUID],
    sent: Notice,
) -> dict[UUID, Outcome]:
    """``sent`` as a notification to the channels, delivered; outcomes by channel."""
    notification_id = UUID(sent.id)
    writes.create_notification(
        conn,
        notification_id=notification_id,
        project_id=project_id,
        rule_id=None,
        kind="test",
        payload=sent.model_dump(mode="json"),
        channel_ids=channel_ids,
    )
    outcomes = Deliverer(settings, BOX, Sender(settings)).run(conn, [notification_id])
    by_delivery = {
        row[0]: UUID(str(row[1]))
        for row in conn.execute(
            "SELECT id, channel_id FROM alert_deliveries WHERE notification_id = %s",
            (notification_id,),
        ).fetchall()
    }
    return {by_delivery[d]: outcome for d, outcome in outcomes.items()}


def write_events(database_url: str, project_id: UUID, *events: dict[str, Any]) -> int:
    """Through the real processor, as the queue would hand them over."""
    processor = BatchProcessor(Database(database_url), "logsight.events.dead")
    outcome = processor.process(
        records_from_event(rmq_event("logsight.events.0", [message(project_id, *events)]))
    )
    return outcome.inserted
