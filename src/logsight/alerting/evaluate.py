"""What a rule's condition says now: the number it watches (from the rollups) and whether it
fires, or, for occurrence rules, the new or regressed issues since it last looked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from logsight.alerting import rules as r
from logsight.query import alerts as reads


@dataclass(frozen=True, slots=True)
class Reading:
    firing: bool
    value: float | None
    summary: str
    threshold: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Occurrence:
    at: datetime
    summary: str
    details: dict[str, Any]


def _minutes(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def _described(f: r.EventFilter) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in f.model_dump(exclude_none=True).items())
    return f"events ({shown})" if shown else "events"


def read_state(
    conn: psycopg.Connection, rule: dict[str, Any], condition: r.Condition, now: datetime
) -> Reading:
    project = rule["project_id"]
    window = int(rule["window_seconds"])
    start = now - timedelta(seconds=window)
    span = _minutes(window)
    match condition:
        case r.Threshold(metric="unique_users"):
            value = float(reads.unique_users(conn, project, start, now))
            what = "unique users"
        case r.Threshold():
            value = float(reads.event_count(conn, project, condition.filter, start, now))
            what = _described(condition.filter)
        case r.Absence():
            count = reads.event_count(conn, project, condition.filter, start, now)
            what = _described(condition.filter)
            if count == 0:
                return Reading(True, 0.0, f"no {what} in the last {span}", 0.0)
            return Reading(False, float(count), f"{what} in the last {span}: {count}", 0.0)
        case r.Change():
            shift = timedelta(days=1 if condition.compare_to == "day" else 7)
            current = reads.event_count(conn, project, condition.filter, start, now)
            before = reads.event_count(conn, project, condition.filter, start - shift, now - shift)
            what = _described(condition.filter)
            change = 0.0 if before == 0 else (current - before) * 100.0 / before
            moved = -change if condition.direction == "drop" else change
            firing = before >= condition.min_baseline and moved >= condition.percent
            summary = (
                f"{what} in the last {span}: {current}, {change:+.0f}% versus the same "
                f"{span} a {condition.compare_to} earlier ({before})"
            )
            return Reading(
                firing,
                round(change, 2),
                summary,
                condition.percent,
                {"current": current, "baseline": before},
            )
        case r.ErrorRate():
            release_name = condition.release
            if condition.per_release:
                worst = reads.worst_release(conn, project, condition.min_events, start, now)
                release_name, errors, total = worst or (None, 0, 0)
            else:
                errors, total = reads.error_and_total(conn, project, release_name, start, now)
            rate = 0.0 if total == 0 else errors * 100.0 / total
            firing = total >= condition.min_events and rate >= condition.percent
            release = f" in release '{release_name}'" if release_name else ""
            summary = (
                f"error rate{release} in the last {span}: {rate:.1f}% "
                f"({errors} of {total} events), threshold {condition.percent:g}%"
            )
            return Reading(
                firing,
                round(rate, 3),
                summary,
                condition.percent,
                {"errors": errors, "total": total, "release": release_name},
            )
        case r.IssueFrequency():
            top = reads.busiest_issue(
                conn, project, condition.issue_id, condition.metric, start, now
            )
            value = float(top["value"]) if top else 0.0
            firing = value > condition.threshold
            named = f"issue '{top['title']}'" if top else "no issue"
            summary = (
                f"{named}: {value:g} {condition.metric} in the last {span}, "
                f"threshold {condition.threshold}"
            )
            details = {"issue_id": str(top["id"])} if top else {}
            return Reading(firing, value, summary, float(condition.threshold), details)
        case _:
            raise ValueError(f"{condition.kind} rules report occurrences, not a state")
    assert isinstance(condition, r.Threshold)
    above = condition.op == "above"
    firing = value > condition.threshold if above else value < condition.threshold
    word = "above" if above else "below"
    return Reading(
        firing,
        value,
        f"{what} in the last {span}: {value:g} ({word} {condition.threshold:g} fires)",
        condition.threshold,
    )


def read_occurrences(
    conn: psycopg.Connection,
    rule: dict[str, Any],
    condition: r.Condition,
    since: datetime,
    now: datetime,
) -> list[Occurrence]:
    project = rule["project_id"]
    if isinstance(condition, r.NewIssue):
        found = reads.new_issues(conn, project, since, now)
        word = "new issue"
    elif isinstance(condition, r.Regression):
        found = reads.regressions(conn, project, condition.issue_id, since, now)
        word = "regression"
    else:
        raise ValueError(f"{condition.kind} rules report a state, not occurrences")
    return [
        Occurrence(
            row["at"],
            f"{word}: {row['title']}" + (f" ({row['culprit']})" if row.get("culprit") else ""),
            {"issue_id": str(row["id"]), "level": row["level"]},
        )
        for row in found
    ]
