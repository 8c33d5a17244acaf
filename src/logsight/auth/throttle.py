"""Login throttling per account and per client address, shared by every API instance through
the ``login_failures`` table.

An attempt is counted as a failure BEFORE the password is checked, under an advisory lock per
subject, and forgiven when it succeeds. Counting first means concurrent attempts cannot all slip
past the check while the (deliberately slow) password hash runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from logsight.config import Settings
from logsight.errors import ApiError

# Advisory lock class for login subjects (any constant distinct from the migration lock).
_LOCK_CLASS = 0x4C6F67


@dataclass(frozen=True, slots=True)
class Subject:
    key: str
    limit: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """The failures provisionally recorded for one attempt, to forgive on success."""

    subjects: tuple[str, ...]
    recorded_at: datetime | None


def subjects(settings: Settings, email: str, ip: str | None) -> list[Subject]:
    found = [Subject(f"account:{email.strip().lower()}", settings.login_account_failures)]
    if ip:
        found.append(Subject(f"ip:{ip}", settings.login_ip_failures))
    return found


def too_many(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "too_many_attempts",
        f"too many failed attempts; try again in {retry_after} s",
        headers=(("retry-after", str(retry_after)),),
    )


def begin(conn: psycopg.Connection, settings: Settings, found: list[Subject]) -> Attempt:
    """Raise 429 (with Retry-After) when any subject is over its limit; otherwise record the
    attempt as a failure of every subject."""
    window = timedelta(seconds=settings.login_window_seconds)
    ordered = sorted(found, key=lambda s: s.key)
    with conn.transaction():
        for subject in ordered:
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, subject.key)
            )
        wait = 0.0
        for subject in ordered:
            # The limit-th most recent failure: once it leaves the window the subject is under
            # its limit again.
            row = conn.execute(
                "SELECT extract(epoch FROM failed_at + %s - clock_timestamp())"
                " FROM login_failures WHERE subject = %s AND failed_at > clock_timestamp() - %s"
                " ORDER BY failed_at DESC OFFSET %s LIMIT 1",
                (window, subject.key, window, subject.limit - 1),
            ).fetchone()
            if row is not None:
                wait = max(wait, float(row[0]))
        if wait > 0:
            raise too_many(max(1, math.ceil(wait)))
        keys = [s.key for s in ordered]
        # Old rows of these subjects go as new ones come: the table stays the size of a window.
        conn.execute(
            "DELETE FROM login_failures WHERE subject = ANY(%s) AND failed_at <= now() - %s",
            (keys, window),
        )
        row = conn.execute(
            "INSERT INTO login_failures (subject, failed_at)"
            " SELECT unnest(%s::text[]), (SELECT clock_timestamp()) RETURNING failed_at",
            (keys,),
        ).fetchone()
    return Attempt(tuple(keys), row[0] if row else None)


def succeeded(conn: psycopg.Connection, attempt: Attempt, account_subject: str) -> None:
    """Forgive this attempt; a correct password also clears the account's earlier failures.
    The address keeps its count: logging into one's own account must not reset it for an
    attacker trying others from the same address."""
    conn.execute(
        "DELETE FROM login_failures WHERE (subject = %s) OR (subject = ANY(%s) AND failed_at = %s)",
        (account_subject, list(attempt.subjects), attempt.recorded_at),
    )
