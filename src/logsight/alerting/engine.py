"""One run of alerting (every minute): evaluate the due rules, claim each state change, turn
claimed changes into notifications (or hold them for a digest), send due digests, deliver.

State rules (threshold, change, error rate, issue frequency, absence) are ``ok`` or ``firing``:
a notification when a rule starts firing and when it resolves, and while it keeps firing again
only once its cooldown has passed. Occurrence rules (new issue, regression) notify for what
appeared since the last look; their watermark is claimed like a state. A snoozed rule is not
evaluated until its snooze ends. Every claim and what it creates commit together, so an
evaluation that overlaps another, or a retried invocation, notifies at most once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from logsight.alerting.delivery import Deliverer, Outcome, Sender
from logsight.alerting.evaluate import read_occurrences, read_state
from logsight.alerting.message import Entry, Notice, NoticeKind, title_for
from logsight.alerting.rules import OCCURRENCE_KINDS, parse_condition
from logsight.alerting.secret_box import SecretBox, secret_box
from logsight.config import Settings
from logsight.query import alerts as reads
from logsight.storage import alerts as writes

log = logging.getLogger(__name__)
# Rules recorded as evaluated per statement: a run cut short by its deadline keeps most of its
# work.
BOOKKEEPING_BATCH = 200


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    value: float | None
    notification: UUID | None = None
    # An occurrence rule that found nothing new: its watermark moves with the bookkeeping.
    quiet_occurrences: bool = False


@dataclass
class RunResult:
    rules_evaluated: int = 0
    rules_failed: int = 0
    notifications: list[UUID] = field(default_factory=list)
    deliveries: dict[int, Outcome] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        sent = sum(1 for o in self.deliveries.values() if o.status == "sent")
        return {
            "rules_evaluated": self.rules_evaluated,
            "rules_failed": self.rules_failed,
            "notifications": len(self.notifications),
            "deliveries_sent": sent,
            "deliveries_failed": len(self.deliveries) - sent,
        }


class AlertEngine:
    def __init__(
        self,
        settings: Settings,
        *,
        box: SecretBox | None = None,
        sender: Sender | None = None,
    ) -> None:
        self.settings = settings
        self._box = box
        self._sender = sender

    @property
    def deliverer(self) -> Deliverer:
        box = self._box or secret_box(self.settings)
        return Deliverer(self.settings, box, self._sender)

    # -- The whole run ---------------------------------------------------------------------

    def run(self, conn: psycopg.Connection, now: datetime, *, deliver: bool = True) -> RunResult:
        result = self.evaluate(conn, now)
        result.notifications += self.send_digests(conn, now)
        if deliver:
            result.deliveries = self.deliverer.run(conn)
        return result

    def evaluate(self, conn: psycopg.Connection, now: datetime) -> RunResult:
        result = RunResult()
        values: list[tuple[UUID, float | None]] = []
        quiet: list[UUID] = []
        for rule in reads.due_rules(conn, now):
            try:
                outcome = self.evaluate_rule(conn, rule, now)
            except Exception:
                # One rule's fault (a condition stored by an older version, a query error)
                # must not stop the others.
                log.exception("alert rule %s could not be evaluated", rule["id"])
                result.rules_failed += 1
                continue
            result.rules_evaluated += 1
            values.append((rule["id"], outcome.value))
            if outcome.quiet_occurrences:
                quiet.append(rule["id"])
            if outcome.notification is not None:
                result.notifications.append(outcome.notification)
            if len(values) >= BOOKKEEPING_BATCH:
                writes.record_evaluations(conn, now, values, quiet)
                values, quiet = [], []
        # Bookkeeping in a statement per batch: a rule whose state did not change costs no
        # write of its own (a run that dies first only evaluates that batch's rules again).
        writes.record_evaluations(conn, now, values, quiet)
        return result

    # -- One rule --------------------------------------------------------------------------

    def evaluate_rule(
        self, conn: psycopg.Connection, rule: dict[str, Any], now: datetime
    ) -> RuleOutcome:
        condition = parse_condition(rule["condition"])
        if condition.kind in OCCURRENCE_KINDS:
            seen = rule["watermark"]
            since = seen or rule["created_at"]
            if now <= since:
                return RuleOutcome(None)
            found = read_occurrences(conn, rule, condition, since, now)
            if not found:
                return RuleOutcome(0.0, quiet_occurrences=True)
            with conn.transaction():
                if not writes.claim_watermark(conn, rule["id"], seen, now):
                    return RuleOutcome(float(len(found)))
                entries = [
                    (Entry(kind="firing", at=o.at, summary=o.summary), o.details) for o in found
                ]
                created = self._notify(conn, rule, "firing", entries, now)
            return RuleOutcome(float(len(found)), created)
        reading = read_state(conn, rule, condition, now)
        # Only a reading that disagrees with the state read a moment ago can change it; the
        # claim then checks again in the database.
        if reading.firing == (rule["state"] == "firing") and not (
            reading.firing and self._cooled_down(rule, now)
        ):
            return RuleOutcome(reading.value)
        with conn.transaction():
            kind: NoticeKind | None = None
            if reading.firing:
                if writes.claim_firing(conn, rule["id"], now):
                    kind = "firing"
                elif writes.claim_repeat(conn, rule["id"], now):
                    kind = "repeat"
            elif writes.claim_resolved(conn, rule["id"], now):
                kind = "resolved"
            if kind is None:
                return RuleOutcome(reading.value)
            entry = Entry(
                kind=kind,
                at=now,
                summary=reading.summary,
                value=reading.value,
                threshold=reading.threshold,
            )
            created = self._notify(conn, rule, kind, [(entry, reading.details)], now)
        return RuleOutcome(reading.value, created)

    @staticmethod
    def _cooled_down(rule: dict[str, Any], now: datetime) -> bool:
        notified = rule["last_notified_at"]
        return notified is None or notified + timedelta(seconds=rule["cooldown_seconds"]) <= now

    def _notify(
        self,
        conn: psycopg.Connection,
        rule: dict[str, Any],
        kind: NoticeKind,
        entries: list[tuple[Entry, dict[str, Any]]],
        now: datetime,
    ) -> UUID | None:
        """History entries for a claimed change, and their notification unless the rule
        collects them into digests."""
        notification_id = None
        if rule["digest_seconds"] is None:
            notification_id = uuid.uuid4()
            notice = self._notice(notification_id, rule, kind, [entry for entry, _ in entries], now)
            writes.create_notification(
                conn,
                notification_id=notification_id,
                project_id=rule["project_id"],
                rule_id=rule["id"],
                kind=kind,
                payload=notice.model_dump(mode="json"),
            )
        for entry, details in entries:
            writes.add_history(
                conn,
                project_id=rule["project_id"],
                rule_id=rule["id"],
                kind=entry.kind,
                at=entry.at,
                value=entry.value,
                summary=entry.summary,
                details={**details, "threshold": entry.threshold},
                notification_id=notification_id,
            )
        return notification_id

    def _notice(
        self,
        notification_id: UUID,
        rule: dict[str, Any],
        kind: NoticeKind,
        entries: list[Entry],
        now: datetime,
    ) -> Notice:
        return Notice(
            id=str(notification_id),
            kind=kind,
            project_id=str(rule["project_id"]),
            project_name=rule["project_name"],
            rule_id=str(rule["id"]) if rule.get("id") else None,
            rule_name=rule["name"],
            rule_kind=rule.get("kind"),
            at=now,
            title=title_for(kind, rule["name"], len(entries)),
            entries=entries,
            link=self.rule_link(rule["project_id"], rule.get("id")),
        )

    def rule_link(self, project_id: UUID, rule_id: UUID | None) -> str:
        base = self.settings.public_url.rstrip("/")
        if rule_id is None:
            return f"{base}/alerts/?project={project_id}"
        return f"{base}/alerts/rule/?project={project_id}&id={rule_id}"

    # -- Digests and tests -----------------------------------------------------------------

    def send_digests(self, conn: psycopg.Connection, now: datetime) -> list[UUID]:
        created = []
        for rule in reads.pending_digests(conn, now):
            notification_id = uuid.uuid4()
            try:
                with conn.transaction():
                    writes.create_notification(
                        conn,
                        notification_id=notification_id,
                        project_id=rule["project_id"],
                        rule_id=rule["id"],
                        kind="digest",
                        payload={},
                    )
                    taken = writes.take_undigested(conn, rule["id"], notification_id)
                    if not taken:
                        # Another run digested them first: this notification never existed.
                        raise psycopg.Rollback()
                    entries = [
                        Entry(
                            kind=row["kind"],
                            at=row["at"],
                            summary=row["summary"],
                            value=row["value"],
                            threshold=row["details"].get("threshold"),
                        )
                        for row in sorted(taken, key=lambda row: row["at"])
                    ]
                    notice = self._notice(notification_id, rule, "digest", entries, now)
                    writes.set_notification_payload(
                        conn, notification_id, notice.model_dump(mode="json")
                    )
                    writes.mark_digested(conn, rule["id"], now)
                    created.append(notification_id)
            except Exception:
                log.exception("digest of alert rule %s failed", rule["id"])
        return created

    def send_test(
        self,
        conn: psycopg.Connection,
        project: dict[str, Any],
        channel_id: UUID,
        now: datetime,
    ) -> UUID:
        """A test notice to one channel, delivered before returning."""
        notification_id = uuid.uuid4()
        notice = Notice(
            id=str(notification_id),
            kind="test",
            project_id=str(project["id"]),
            project_name=project["name"],
            rule_name="Test notification",
            at=now,
            title=title_for("test", "LogSight test notification"),
            entries=[Entry(kind="firing", at=now, summary="This channel is set up correctly.")],
            link=self.rule_link(project["id"], None),
        )
        with conn.transaction():
            writes.create_notification(
                conn,
                notification_id=notification_id,
                project_id=project["id"],
                rule_id=None,
                kind="test",
                payload=notice.model_dump(mode="json"),
                channel_ids=[channel_id],
            )
        self.deliverer.run(conn, [notification_id])
        return notification_id
