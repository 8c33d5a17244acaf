"""Login throttling that slows guessing down without ever locking the owner out.

Three subjects are counted for an attempt on ``email`` from client network ``net`` (the /24 of
an IPv4 address, the /64 of an IPv6 one), in ``login_throttle``, shared by every API instance:

- ``pair:email|net``: consecutive failures of that account from that network. After
  ``login_free_failures`` of them, each further attempt from that network waits
  ``login_delay_seconds`` * 2^(failures - free) after the last failure, at most
  ``login_max_delay_seconds``. Forgotten after ``login_forget_seconds`` without a failure, or
  when the right password comes from that network.
- ``network:net``: failures from the network against any account (password spraying), a leaky
  bucket holding ``login_network_failures`` per ``login_window_seconds``; when full, the
  network waits until one failure has drained.
- ``account:email``: failures against the account from every network, a leaky bucket of
  ``login_account_failures`` per window (capped at twice that, so it drains within a window
  once guessing stops). While it is full the account is under attack: networks that have
  failed against it get no free failure (they wait after their first), while a network that
  never failed against it is never slowed. No count ever refuses a network with no failures
  on the account, so an attacker cannot lock the owner out.

An attempt is counted as a failure BEFORE the password is checked, under advisory locks on its
subjects, and forgiven when it succeeds: concurrent attempts cannot all slip past the check
while the (deliberately slow) password hash runs. Attempts refused with 429 are not counted.
Unknown accounts are counted like known ones, so the answers reveal nothing.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

import psycopg

from logsight.config import Settings
from logsight.errors import ApiError

# Advisory lock class for login subjects (any constant distinct from the migration lock).
_LOCK_CLASS = 0x4C6F67
# Rows idle past every horizon are deleted a few at a time as new failures are recorded.
_SWEEP_ROWS = 20
# 2^62 seconds is longer than any cap: beyond it the doubling only risks float overflow.
_MAX_DOUBLINGS = 62
_UNKNOWN_NETWORK = "unknown"


def client_network(ip: str | None) -> str:
    """The network an address is counted in: /24 for IPv4 (IPv4-mapped IPv6 included), /64
    for IPv6. One host rarely has more, and guessing from many neighbours is one source."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return _UNKNOWN_NETWORK
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@dataclass(frozen=True, slots=True)
class Subjects:
    email: str
    network: str

    @property
    def pair(self) -> str:
        return f"pair:{self.email}|{self.network}"

    @property
    def network_key(self) -> str:
        return f"network:{self.network}"

    @property
    def account(self) -> str:
        return f"account:{self.email}"

    @property
    def keys(self) -> list[str]:
        return sorted((self.pair, self.network_key, self.account))


def subjects(email: str, ip: str | None) -> Subjects:
    return Subjects(email.strip().lower(), client_network(ip))


@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt counted as a failure, to forgive if the password is right."""

    subjects: Subjects
    failures: int  # of the account from this network, this attempt included
    under_attack: bool
    next_delay: float  # what the next attempt from this network waits if this one fails


class Throttled(ApiError):
    """429: the attempt must wait. ``first`` is true for the first refusal since the last
    failure of the refusing subject (what the audit log records)."""

    def __init__(self, retry_after: int, reason: str, subjects: Subjects, *, first: bool) -> None:
        super().__init__(
            429,
            "too_many_attempts",
            f"too many failed attempts; try again in {retry_after} s",
            headers=(("retry-after", str(retry_after)),),
        )
        self.retry_after = retry_after
        self.reason = reason
        self.subjects = subjects
        self.first = first


def delay(settings: Settings, failures: int, *, under_attack: bool) -> float:
    """Seconds an attempt waits after the last of ``failures`` consecutive failures of the
    account from its network."""
    free = 1 if under_attack else settings.login_free_failures
    if failures <= 0 or failures < free:
        return 0.0
    doublings = min(failures - free, _MAX_DOUBLINGS)
    return float(
        min(settings.login_delay_seconds * 2.0**doublings, settings.login_max_delay_seconds)
    )


@dataclass(frozen=True, slots=True)
class _State:
    failures: float
    age: float  # seconds since updated_at, by the database's clock
    refusal_audited: bool


def _drained(state: _State | None, limit: int, window: int) -> float:
    if state is None:
        return 0.0
    return max(0.0, state.failures - state.age * limit / window)


def begin(conn: psycopg.Connection, settings: Settings, found: Subjects) -> Attempt:
    """Raise Throttled when the attempt must wait; otherwise count it as a failure of every
    subject and return it."""
    window = settings.login_window_seconds
    with conn.transaction():
        for key in found.keys:
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, key))
        rows = conn.execute(
            "SELECT subject, failures, extract(epoch FROM clock_timestamp() - updated_at),"
            " refusal_audited FROM login_throttle WHERE subject = ANY(%s)",
            (found.keys,),
        ).fetchall()
        states = {row[0]: _State(float(row[1]), float(row[2]), bool(row[3])) for row in rows}

        pair = states.get(found.pair)
        if pair is not None and pair.age >= settings.login_forget_seconds:
            pair = None
        failures = int(pair.failures) if pair else 0
        account_level = _drained(states.get(found.account), settings.login_account_failures, window)
        under_attack = account_level >= settings.login_account_failures
        network_level = _drained(
            states.get(found.network_key), settings.login_network_failures, window
        )

        waits: dict[str, float] = {}
        if pair is not None:
            waits[found.pair] = delay(settings, failures, under_attack=under_attack) - pair.age
        overflow = network_level + 1 - settings.login_network_failures
        if overflow > 0:
            waits[found.network_key] = overflow * window / settings.login_network_failures
        refusing = {key: wait for key, wait in waits.items() if wait > 0}
        refusal: Throttled | None = None
        if refusing:
            conn.execute(
                "UPDATE login_throttle SET refusal_audited = true WHERE subject = ANY(%s)",
                (list(refusing),),
            )
            refusal = Throttled(
                max(1, math.ceil(max(refusing.values()))),
                "account_network" if found.pair in refusing else "network",
                found,
                first=any(not states[key].refusal_audited for key in refusing),
            )
        else:
            account_cap = 2 * settings.login_account_failures
            conn.cursor().executemany(
                "INSERT INTO login_throttle (subject, failures, updated_at)"
                " VALUES (%s, %s, clock_timestamp()) ON CONFLICT (subject) DO UPDATE"
                " SET failures = EXCLUDED.failures, updated_at = EXCLUDED.updated_at,"
                " refusal_audited = false",
                [
                    (found.pair, failures + 1),
                    (found.network_key, network_level + 1),
                    (found.account, min(account_level + 1, account_cap)),
                ],
            )
            _sweep(conn, settings)
    if refusal is not None:
        # Raised once the transaction has committed, so the audited mark is kept.
        raise refusal
    return Attempt(
        found,
        failures + 1,
        under_attack,
        delay(settings, failures + 1, under_attack=under_attack),
    )


def _sweep(conn: psycopg.Connection, settings: Settings) -> None:
    """Delete a few rows nobody has failed on for longer than any of them is remembered
    (skipping rows another attempt holds), so the table stays the size of recent activity."""
    horizon = max(settings.login_forget_seconds, 2 * settings.login_window_seconds)
    conn.execute(
        "DELETE FROM login_throttle WHERE subject IN (SELECT subject FROM login_throttle"
        " WHERE updated_at < clock_timestamp() - make_interval(secs => %s)"
        " ORDER BY updated_at LIMIT %s FOR UPDATE SKIP LOCKED)",
        (horizon, _SWEEP_ROWS),
    )


def succeeded(conn: psycopg.Connection, attempt: Attempt) -> None:
    """Forgive this attempt: the account starts over from this network. The network's and
    the account's other failures stay: logging into one's own account must not reset the
    counts for an attacker trying others from the same network."""
    found = attempt.subjects
    with conn.transaction():
        conn.execute("DELETE FROM login_throttle WHERE subject = %s", (found.pair,))
        conn.execute(
            "UPDATE login_throttle SET failures = greatest(failures - 1, 0)"
            " WHERE subject = ANY(%s)",
            ([found.network_key, found.account],),
        )
