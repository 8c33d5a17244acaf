"""Secrets planted anywhere in generated events never reach storage (the real pipeline).

Events with secrets at random depths and places (properties, context and request parts, frame
variables, breadcrumbs, the message, user traits; values under sensitive keys in any spelling,
``key=value`` and quoted pairs inside strings, lists of pairs, and secrets recognised by shape
inside free text) are sent to ``logsight local`` (gateway → ingest → RabbitMQ → processor →
PostgreSQL), together with a malformed message carrying the same secrets, which becomes a dead
letter. Then no planted secret may be found in any table's rows (every column, as text), in the
dead letters' raw bytes, in the search API or in the events read back through the API; and a
real sentry-python error with secret frame variables, and a real @sentry/node error with
secret extra data and tags, are stored scrubbed.
"""

from __future__ import annotations

import random
import string
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import amqp
import orjson
import psycopg
import pytest
import sentry_sdk
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from logsight.privacy.detectors import luhn_valid
from logsight.privacy.keys import DEFAULT_SENSITIVE_KEYS, key_parts
from logsight.queue.connection import close_quietly, connect
from logsight.queue.topology import routing_key, shard_for
from tests.ingest.test_sentry_clients import member_of, send_node, wait_for
from tests.support.api import Member
from tests.support.runtime import LocalLogSight, fresh_runtime

pytestmark = pytest.mark.slow

EXCHANGE = "logsight.events"
# Keys that hold no secret, where planted values are nested.
PLAIN_KEYS = ("note", "data", "info", "payload", "extra", "items", "details", "text", "value")


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalLogSight]:
    with fresh_runtime("logsight_privacy") as local:
        yield local


@pytest.fixture(scope="module")
def admin(runtime: LocalLogSight) -> Member:
    return member_of(runtime, "admin")


@pytest.fixture(scope="module")
def channel(runtime: LocalLogSight) -> Iterator[amqp.Channel]:
    connection = connect(runtime.amqp_url, connect_timeout=3, heartbeat=0)
    try:
        channel = connection.channel()
        channel.confirm_select()
        yield channel
    finally:
        close_quietly(connection)


# -- secrets -----------------------------------------------------------------------------------


@dataclass
class Planted:
    """What to plant and the distinctive text that must not be found anywhere afterwards."""

    text: str
    needle: str


def _card(r: random.Random) -> Planted:
    body = "4" + "".join(r.choice(string.digits) for _ in range(14))
    check = next(d for d in string.digits if luhn_valid(body + d))
    digits = body + check
    style = r.choice(["", " ", "-"])
    text = style.join(digits[i : i + 4] for i in range(0, 16, 4)) if style else digits
    return Planted(text, text)


def _iban(r: random.Random) -> Planted:
    bban = "".join(r.choice(string.digits) for _ in range(18))
    number = int("".join(str(int(c, 36)) for c in bban + "DE00"))
    iban = f"DE{98 - number % 97:02d}{bban}"
    return Planted(iban, iban)


def _token(
    r: random.Random, length: int, alphabet: str = string.ascii_letters + string.digits
) -> str:
    return "".join(r.choice(alphabet) for _ in range(length))


def _bearer(r: random.Random) -> Planted:
    token = _token(r, r.randint(20, 40))
    return Planted(f"{r.choice(['Bearer', 'bearer'])} {token}", token)


def _aws_id(r: random.Random) -> Planted:
    key = r.choice(["AKIA", "ASIA"]) + _token(r, 16, string.ascii_uppercase + string.digits)
    return Planted(key, key)


def _aws_secret(r: random.Random) -> Planted:
    key = "Ab1/" + _token(r, 36, string.ascii_letters + string.digits + "/+")
    return Planted(key, key)


def _pem(r: random.Random) -> Planted:
    body = _token(r, 64, string.ascii_letters + string.digits + "+/")
    label = r.choice(["", "RSA ", "EC ", "OPENSSH "])
    return Planted(
        f"-----BEGIN {label}PRIVATE KEY-----\n{body}\n-----END {label}PRIVATE KEY-----", body
    )


SHAPES = (_card, _iban, _bearer, _aws_id, _aws_secret, _pem)


def sensitive_key(r: random.Random) -> str:
    """A default rule spelled as applications spell keys: any case, separators or camelCase,
    with or without other parts around it."""
    parts = list(key_parts(r.choice(DEFAULT_SENSITIVE_KEYS)))
    if r.random() < 0.4:
        parts.insert(0, r.choice(["user", "x", "db", "stripe"]))
    if r.random() < 0.3:
        parts.append(r.choice(["value", "old", "2"]))
    style = r.choice(["snake", "kebab", "upper", "title", "camel"])
    if style == "camel":
        return parts[0] + "".join(p.title() for p in parts[1:])
    if style == "title":
        return "-".join(p.title() for p in parts)
    if style == "upper":
        return "_".join(parts).upper()
    return ("-" if style == "kebab" else "_").join(parts)


# -- events ------------------------------------------------------------------------------------


@dataclass
class Plan:
    events: list[dict[str, Any]] = field(default_factory=list)
    needles: list[str] = field(default_factory=list)


def _nest(r: random.Random, value: Any) -> Any:
    """``value`` at a random depth (0-4) of objects and lists."""
    for _ in range(r.randint(0, 4)):
        value = {r.choice(PLAIN_KEYS): value} if r.random() < 0.7 else [r.choice(PLAIN_KEYS), value]
        if isinstance(value, list):
            value = [value[1], "filler"] if r.random() < 0.5 else value
    return value


def _carrier(r: random.Random, plan: Plan) -> Any:
    """Something holding one secret, in one of the shapes secrets travel in."""
    kind = r.choice(["keyed", "pair", "quoted", "pairs", "shape", "shape"])
    if kind == "shape":
        planted = r.choice(SHAPES)(r)
        plan.needles.append(planted.needle)
        return f"{r.choice(['saw', 'x:', 'token is'])} {planted.text} {r.choice(['then', '.', ''])}"
    secret = f"sv{uuid.uuid4().hex[:20]}"
    plan.needles.append(secret)
    key = sensitive_key(r)
    if kind == "keyed":
        return {key: secret if r.random() < 0.8 else {"nested": secret}}
    if kind == "pair":
        return r.choice(
            [f"page=2&{key}={secret}&x=1", f"theme=dark; {key}={secret}", f"{key}={secret}"]
        )
    if kind == "quoted":
        return r.choice([f"{{'{key}': '{secret}', 'n': 1}}", f'{{"{key}": "{secret}"}}'])
    return [["Accept", "*/*"], [key, secret]]


def make_plan(seed: int, count: int) -> Plan:
    r = random.Random(seed)
    plan = Plan()
    for _ in range(count):
        event: dict[str, Any] = {"event_id": str(uuid.uuid4()), "name": "checkout"}
        for _ in range(r.randint(1, 4)):
            place = r.choice(
                ["properties", "context", "request", "frame", "breadcrumb", "message", "user"]
            )
            carried = _nest(r, _carrier(r, plan))
            slot = r.choice(PLAIN_KEYS)
            if place == "properties":
                event.setdefault("properties", {})[slot] = carried
            elif place == "context":
                event.setdefault("context", {})[slot] = carried
            elif place == "request":
                request = event.setdefault("context", {}).setdefault("request", {})
                request[r.choice(["headers", "query_string", "data", "cookies", "env"])] = carried
            elif place == "frame":
                event["type"] = "error"
                error = event.setdefault("error", {"type": "ValueError", "value": "bad"})
                error.setdefault("stacktrace", {"frames": []})["frames"].append(
                    {"function": "pay", "filename": "pay.py", "lineno": 3, "vars": {slot: carried}}
                )
            elif place == "breadcrumb":
                event.setdefault("breadcrumbs", []).append(
                    {"category": "http", "data": {slot: carried}}
                )
            elif place == "message" and "message" not in event:
                # Free text, or a logged payload: the message is then a JSON document.
                text = carried if isinstance(carried, str) else orjson.dumps(carried).decode()
                event["message"] = text
            elif place == "user":
                event.setdefault("user", {"id": "u1"})[slot] = carried
        plan.events.append(event)
    return plan


# -- looking for them --------------------------------------------------------------------------


def found_in_database(conn: psycopg.Connection, needles: list[str]) -> list[str]:
    """``table: needle`` for every table whose rows, as text, contain a needle; dead letters'
    raw bytes are searched as bytes."""
    patterns = [f"%{n}%" for n in needles]
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        ).fetchall()
    ]
    hits = []
    for table in tables:
        for needle, pattern in zip(needles, patterns, strict=True):
            row = conn.execute(
                f"SELECT 1 FROM {table} t WHERE t::text LIKE %s LIMIT 1",
                (pattern,),
            ).fetchone()
            if row:
                hits.append(f"{table}: {needle}")
    for needle in needles:
        if conn.execute(
            "SELECT 1 FROM dead_letters WHERE position(convert_to(%s, 'UTF8') IN raw) > 0",
            (needle,),
        ).fetchone():
            hits.append(f"dead_letters.raw: {needle}")
    return hits


def wait_for_rows(conn: psycopg.Connection, event_ids: list[str], message_id: str) -> None:
    deadline = time.monotonic() + 60
    ids = [uuid.UUID(e) for e in event_ids]
    while time.monotonic() < deadline:
        stored = conn.execute(
            "SELECT count(*) FROM events WHERE event_id = ANY(%s)", (ids,)
        ).fetchone()
        letter = conn.execute(
            "SELECT count(*) FROM dead_letters WHERE message_id = %s", (message_id,)
        ).fetchone()
        if stored and letter and stored[0] == len(ids) and letter[0] == 1:
            return
        time.sleep(0.2)
    raise AssertionError(f"events or dead letter missing after 60 s: {stored}, {letter}")


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # Each example is a round trip through the pipeline: no shrinking (the seed reproduces).
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(min_value=0, max_value=2**32), count=st.integers(min_value=1, max_value=4))
def test_no_planted_secret_survives_the_pipeline(
    runtime: LocalLogSight, admin: Member, channel: amqp.Channel, seed: int, count: int
) -> None:
    plan = make_plan(seed, count)
    with runtime.client() as client:
        reply = client.post(
            "/v1/events", json={"events": plan.events}, headers={"x-logsight-key": runtime.key}
        )
    assert reply.status_code == 202, reply.text
    # The same secrets in a message the processor cannot take: a dead letter.
    project = uuid.UUID(runtime.project_id)
    message_id = str(uuid.uuid4())
    body = orjson.dumps({"v": 999, "project_id": str(project), "events": plan.events})
    channel.basic_publish(
        amqp.Message(body, message_id=message_id, delivery_mode=2, content_type="application/json"),
        exchange=EXCHANGE,
        routing_key=routing_key(shard_for(project, 1)),
    )
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        wait_for_rows(conn, [e["event_id"] for e in plan.events], message_id)
        assert found_in_database(conn, plan.needles) == []

    headers = {"authorization": f"Bearer {admin.token}"}
    with runtime.client() as client:
        for needle in plan.needles:
            found = client.get(
                f"/api/projects/{project}/events", params={"q": needle[:200]}, headers=headers
            )
            assert found.status_code == 200 and found.json()["data"] == [], needle
        for event in plan.events:
            read = client.get(
                f"/api/projects/{project}/events/{event['event_id']}", headers=headers
            )
            assert read.status_code == 200
            assert not [n for n in plan.needles if n in read.text]
        letters = client.get(f"/api/projects/{project}/dead-letters", headers=headers)
        assert letters.status_code == 200
        assert not [n for n in plan.needles if n in letters.text]


def pay(order: int) -> None:
    # Local variables sentry-python reports with the frame.
    local_secret_note = "note-7f3a9c do not store"
    password = "hunter2-7f3a9c"
    card = "4111 1111 1111 1111"
    api_call = "GET /charge?api_key=sk7f3a9c&amount=3"
    raise ValueError(
        f"payment {order} failed for {len(card + password + local_secret_note + api_call)}"
    )


def test_sentry_python_frame_variables_and_user_are_scrubbed(
    runtime: LocalLogSight, admin: Member
) -> None:
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        number = conn.execute(
            "SELECT number FROM projects WHERE id = %s", (runtime.project_id,)
        ).fetchone()
    assert number is not None
    sentry_sdk.init(
        dsn=f"http://{runtime.key}@127.0.0.1:{runtime.port}/{number[0]}",
        default_integrations=False,
        send_default_pii=True,
    )
    try:
        sentry_sdk.set_user({"id": "42", "ip_address": "203.0.113.77"})
        try:
            pay(7)
        except ValueError:
            event_id = sentry_sdk.capture_exception()
    finally:
        sentry_sdk.get_client().close(timeout=10)
    assert event_id is not None
    row = wait_for(
        runtime, "SELECT error, user_traits FROM events WHERE event_id = %s", uuid.UUID(event_id)
    )
    frame_vars = row["error"]["stacktrace"]["frames"][-1]["vars"]
    assert frame_vars["local_secret_note"] == "[Filtered]"
    assert frame_vars["password"] == "[Filtered]"
    assert frame_vars["card"] == "'[Filtered]'"
    assert frame_vars["api_call"] == "'GET /charge?api_key=[Filtered]&amount=3'"
    assert row["user_traits"] == {"id": "42", "ip_address": "203.0.113.0"}
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        assert found_in_database(conn, ["7f3a9c", "4111 1111", "203.0.113.77"]) == []


def test_sentry_node_extra_data_and_tags_are_scrubbed(runtime: LocalLogSight) -> None:
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        number = conn.execute(
            "SELECT number FROM projects WHERE id = %s", (runtime.project_id,)
        ).fetchone()
    assert number is not None
    marker = uuid.uuid4().hex[:12]
    event_id = send_node(
        f"http://{runtime.key}@127.0.0.1:{runtime.port}/{number[0]}", marker, "secrets"
    )
    row = wait_for(
        runtime,
        "SELECT context, properties FROM events WHERE event_id = %s",
        uuid.UUID(event_id),
    )
    extra = row["context"]["extra"]
    assert extra["password"] == "[Filtered]"
    assert extra["request_line"] == "GET /pay?api_key=[Filtered]&amount=3"
    assert extra["payment"] == {"cardNumber": "[Filtered]", "card": "[Filtered]"}
    assert row["properties"]["upstream_auth"] == "[Filtered]"
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        # (The marker itself is a tag the script always sends.)
        needles = [f"pw-{marker}", f"ak-{marker}", f"cn-{marker}", f"bt{marker}", "4111 1111"]
        assert found_in_database(conn, needles) == []
