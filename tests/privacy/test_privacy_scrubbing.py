"""Scrubbing rules, detector by detector and shape by shape (no database needed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logsight.ingest.normalize import normalize_event
from logsight.privacy.detectors import FILTERED, is_card_number, is_iban, luhn_valid, scrub_text
from logsight.privacy.identity import EmailMode, IpMode, hash_email, truncate_ip
from logsight.privacy.keys import DEFAULT_SENSITIVE_KEYS, KeyRules
from logsight.privacy.pipeline import scrub_message
from logsight.privacy.scrubber import PrivacySettings, Scrubber
from logsight.processing.rows import event_row
from logsight.queue.message import EventMessage
from tests.privacy.test_privacy_pipeline import make_plan
from tests.support.processor import LIMITS

KEY = b"k" * 32


def scrubber(**settings: Any) -> Scrubber:
    return Scrubber(PrivacySettings(**settings), KEY)


@pytest.mark.parametrize(
    "secret",
    [
        "4111111111111111",  # Visa test number
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",  # Mastercard
        "378282246310005",  # Amex
        "6011111111111117",  # Discover
        "GB82 WEST 1234 5698 7654 32",
        "DE89370400440532013000",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "bearer 0123456789abcdef0123",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "AKIAIOSFODNN7EXAMPLE",
        "ASIAY34FZKBOKMUTVV7A",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA (cut short)",
    ],
)
def test_each_detector_finds_its_secret_inside_text(secret: str) -> None:
    scrubbed = scrub_text(f"before {secret} after")
    assert secret not in scrubbed
    assert FILTERED in scrubbed
    assert scrubbed.startswith("before ")


@pytest.mark.parametrize(
    "harmless",
    [
        "4111111111111112",  # fails Luhn
        "1700000000000",  # epoch milliseconds (Luhn-valid: 1+0+...; starts with 1)
        "1700000000000000000",  # epoch nanoseconds
        "0000000000000000",
        "2024-01-31T12:34:56.789012+00:00",
        "550e8400-e29b-41d4-a716-446655440000",
        "12345678-1234-4123-8123-123456789012",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",  # a git commit (hex, one case)
        "GB82 WEST 1234 5698 7654 33",  # IBAN with a wrong check
        "ZZ89370400440532013000",  # no such country
        "the bearer of bad news",
        "AKIAIOSFODNN7EXAMPL",  # one character short
        "+44 20 7946 0958",
        "order 49927398716 shipped",  # Luhn-valid but 11 digits
        "version 4.17.21-build.1234567890123",
    ],
)
def test_near_misses_stay(harmless: str) -> None:
    assert scrub_text(harmless) == harmless


def test_checksums() -> None:
    assert is_card_number("4012 8888 8888 1881")
    assert not is_card_number("4012 8888 8888 1882")
    assert is_iban("FR14 2004 1010 0505 0001 3M02 606")
    assert not is_iban("FR14 2004 1010 0505 0001 3M02 607")


def test_key_rules_match_parts_not_substrings() -> None:
    rules = KeyRules(DEFAULT_SENSITIVE_KEYS)
    for key in (
        "X-Auth-Token",
        "apiKey",
        "API_KEY",
        "Set-Cookie",
        "local_secret_note",
        "creditCardNumber",
        "X-CSRFToken",
        "csrftoken",
        "sessionid",
        "PHPSESSID",
        "mysql_pwd",
        "Authorization",
        "client_secret",
        "private-key",
        "CVV",
    ):
        assert rules.matches(key), key
    for key in (
        "author",
        "authorName",
        "possession",
        "user_agent",
        "tokenizer_name",
        "secretary",
        "keyboard",
        "cardinality",
    ):
        assert not rules.matches(key), key


def sentry_like_context() -> dict[str, Any]:
    return {
        "request": {
            "method": "POST",
            "url": "https://shop.example/checkout?step=2&access_token=tok_live_abcdef",
            "query_string": "step=2&api_key=sk_live_123456&page=1",
            "headers": {
                "Host": "shop.example",
                "X-Api-Key": "sk_live_999",
                "Cookie": "theme=dark; sessionid=s3cr3t",
                "User-Agent": "curl/8",
            },
            "cookies": {"sessionid": "abc", "csrftoken": "def"},
            "data": {"username": "ann", "password": "hunter2", "note": "4111111111111111"},
        },
        "other_request": {
            "headers": [["Authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"], ["Accept", "*/*"]],
            "query_string": [["token", "qqq"], ["q", "shoes"]],
            "cookies": "csrftoken=zzz; lang=en",
            "data": "user=ann&password=hunter2&remember=1",
        },
    }


def test_request_parts_in_every_shape() -> None:
    out = scrubber().value(sentry_like_context())
    request, other = out["request"], out["other_request"]
    assert request["method"] == "POST"
    assert request["url"] == f"https://shop.example/checkout?step=2&access_token={FILTERED}"
    assert request["query_string"] == f"step=2&api_key={FILTERED}&page=1"
    assert request["headers"]["X-Api-Key"] == FILTERED
    assert request["headers"]["Cookie"] == FILTERED
    assert request["headers"]["User-Agent"] == "curl/8"
    assert request["cookies"] == FILTERED
    assert request["data"] == {"username": "ann", "password": FILTERED, "note": FILTERED}
    assert other["headers"] == [["Authorization", FILTERED], ["Accept", "*/*"]]
    assert other["query_string"] == [["token", FILTERED], ["q", "shoes"]]
    assert other["cookies"] == FILTERED
    assert other["data"] == f"user=ann&password={FILTERED}&remember=1"


def test_frame_variables_as_sentry_python_sends_them() -> None:
    frame = {
        "function": "checkout",
        "vars": {
            "local_secret_note": "'do not store me'",
            "config": "{'db_password': 'pw1', 'host': 'db'}",
            "payload": '{"token": "abc", "n": 1}',
            "card": "'4111111111111111'",
            "amount": "42",
        },
    }
    out = scrubber().value({"frames": [frame]})["frames"][0]["vars"]
    assert out["local_secret_note"] == FILTERED
    assert out["config"] == f"{{'db_password': '{FILTERED}', 'host': 'db'}}"
    # A string that is a JSON document is scrubbed as a structure (and written back compact).
    assert out["payload"] == f'{{"token":"{FILTERED}","n":1}}'
    assert out["card"] == f"'{FILTERED}'"
    assert out["amount"] == "42"


def test_nested_values_under_sensitive_keys_go_whole_and_integers_are_checked() -> None:
    out = scrubber().value({"auth": {"user": "a", "pass": "b"}, "n": 4111111111111111, "m": 7})
    assert out == {"auth": FILTERED, "n": FILTERED, "m": 7}


def test_safe_and_extra_keys_and_off() -> None:
    event = {"session": "keep me", "order_ref": "R-1", "password": "pw"}
    assert scrubber(safe_keys=("session",)).value(event) == {
        "session": "keep me",
        "order_ref": "R-1",
        "password": FILTERED,
    }
    assert scrubber(sensitive_keys=("order-ref",)).value(event)["order_ref"] == FILTERED
    assert scrubber(scrub=False).value(event) == event


def event(**fields: Any) -> dict[str, Any]:
    """An event as ingest normalizes it (the processor scrubs it before building its row)."""
    return {"event_id": str(uuid.uuid4()), "type": "error", "name": "ValueError", **fields}


def test_email_modes() -> None:
    source = event(
        message="mail ann@example.com about it",
        user_id="Ann@Example.com",
        user={"id": "Ann@Example.com", "email": "ann@example.com", "username": "ann"},
    )
    stored = scrubber().event(source)
    assert stored["user_id"] == "Ann@Example.com"
    assert stored["message"] == "mail ann@example.com about it"

    hashed = scrubber(email=EmailMode.HASH).event(source)
    digest = hash_email(KEY, "ann@example.com")
    assert hashed["user_id"] == digest  # the same user, whatever the case
    assert hashed.get("user") == {"id": digest, "email": digest, "username": "ann"}
    assert hashed["message"] == f"mail {digest} about it"

    dropped = scrubber(email=EmailMode.DROP).event(source)
    assert dropped["user_id"] is None
    assert dropped.get("user") == {"username": "ann"}
    assert dropped["message"] == f"mail {FILTERED} about it"


def test_ip_modes() -> None:
    source = event(
        user={"ip_address": "203.0.113.77"},
        context={
            "request": {
                "headers": {"X-Forwarded-For": "198.51.100.23, 2001:db8:abcd:12::1"},
                "env": {"REMOTE_ADDR": "192.0.2.9"},
            }
        },
    )
    default = scrubber().event(source)
    assert default.get("user") == {"ip_address": "203.0.113.0"}
    assert default["context"] is not None
    assert default["context"]["request"]["headers"]["X-Forwarded-For"] == (
        "198.51.100.0, 2001:db8:abcd::"
    )
    assert default["context"]["request"]["env"]["REMOTE_ADDR"] == "192.0.2.0"
    assert scrubber(ip=IpMode.STORE).event(source).get("user") == {"ip_address": "203.0.113.77"}
    assert scrubber(ip=IpMode.DROP).event(source).get("user") == {}
    hashed = scrubber(ip=IpMode.HASH).event(source).get("user")
    assert hashed is not None and hashed["ip_address"].startswith("ip:")
    assert scrubber(ip=IpMode.STORE).event(event(user={"ip_address": "{{auto}}"})).get("user") == {}
    assert truncate_ip("2001:db8:1:2:3:4:5:6") == "2001:db8:1::"


def test_typed_columns_are_kept() -> None:
    source = event(session_id="sess-1", release="4111111111111111", message="token=abc")
    out = scrubber().event(source)
    assert out["session_id"] == "sess-1"
    assert out["release"] == "4111111111111111"
    assert out["message"] == f"token={FILTERED}"


def test_a_dead_letter_message_is_scrubbed_and_stays_json() -> None:
    raw = orjson.dumps(
        {
            "v": 1,
            "project_id": str(uuid.uuid4()),
            "session_id": "s",
            "events": [
                {
                    "session_id": "sess",
                    "properties": {"password": "pw"},
                    "message": "card 4111111111111111",
                }
            ],
        }
    )
    out = orjson.loads(scrub_message(scrubber(), raw))
    assert out["events"][0] == {
        "session_id": "sess",
        "properties": {"password": FILTERED},
        "message": f"card {FILTERED}",
    }
    text = scrub_message(scrubber(), b"not json \xff password=pw AKIAIOSFODNN7EXAMPLE")
    assert text == b"not json \xff password=[Filtered] [Filtered]"  # other bytes kept


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(min_value=0, max_value=2**32), count=st.integers(min_value=1, max_value=4))
def test_generated_events_keep_no_planted_secret_in_rows_or_dead_letters(
    seed: int, count: int
) -> None:
    """The pipeline test's generated events, many more of them, through the processor's own
    row building and scrubbing (tests/test_privacy_pipeline.py sends them for real)."""
    plan = make_plan(seed, count)
    received = datetime.now(UTC)
    events = [normalize_event(e, received_at=received, limits=LIMITS) for e in plan.events]
    message = EventMessage(uuid.uuid4(), received, "r", events)
    scrub = scrubber().event
    rows = [event_row(message, e, scrub) for e in events]
    stored = b"".join(
        part
        for r in rows
        for part in (
            orjson.dumps([r.message, r.name, r.culprit]),
            r.properties,
            r.context or b"",
            r.user_traits or b"",
            r.error or b"",
            r.breadcrumbs or b"",
        )
    )
    letter = scrub_message(scrubber(), orjson.dumps({"v": 999, "events": plan.events}))
    for needle in plan.needles:
        assert needle.encode() not in stored
        assert needle.encode() not in letter


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    value=st.one_of(
        st.uuids().map(str),
        st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
        st.integers(min_value=10**12, max_value=2 * 10**12 - 1).map(str),  # epoch ms
        st.integers(min_value=10**18, max_value=2 * 10**18 - 1).map(str),  # epoch ns
        st.text(alphabet="0123456789abcdef", min_size=40, max_size=40),  # a SHA-1
    )
)
def test_identifiers_and_times_are_never_taken_for_secrets(value: str) -> None:
    assert scrub_text(f"at {value} in order") == f"at {value} in order"
    assert scrubber().value({"id": value, "when": [value]}) == {"id": value, "when": [value]}


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    digits=st.text(alphabet="0123456789", min_size=15, max_size=15), first=st.sampled_from("3456")
)
def test_every_luhn_valid_card_number_is_found_and_no_other(digits: str, first: str) -> None:
    number = first + digits
    for check in "0123456789":
        candidate = number[:15] + check
        found = scrub_text(f"card {candidate}.") != f"card {candidate}."
        assert found == is_card_number(candidate) == luhn_valid(candidate)
