"""Notifications delivered to real receivers on loopback: each channel's payload, the webhook
signature, e-mail over SMTP (aiosmtpd) and SES (moto), retries and the delivery log, one slow
channel not holding up the others, and the SSRF guard refusing internal destinations without
connecting."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import boto3
import psycopg
import pytest
import urllib3
from aiosmtpd.controller import Controller
from moto import mock_aws

from logsight.alerting.delivery import Deliverer, Sender
from logsight.alerting.http import GuardedClient, Refused, forbidden, parse_networks
from logsight.config import Settings
from logsight.storage import alerts as writes
from logsight.storage.projects import CreatedProject
from tests.support.alerts import BOX, add_channel, alert_settings, deliver, notice
from tests.support.certificates import Authority
from tests.support.receivers import Received, receiver

PD_KEY = "R" * 32
BOT = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345"


@pytest.fixture
def s(settings: Settings) -> Settings:
    return alert_settings(settings)


def log_of(db: psycopg.Connection, channel_id: Any) -> tuple[str, int, int | None, str | None]:
    row = db.execute(
        "SELECT status, attempts, response_code, error FROM alert_deliveries WHERE channel_id = %s",
        (channel_id,),
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


def test_chat_channels_get_their_own_formats(
    db: psycopg.Connection, s: Settings, project: CreatedProject
) -> None:
    with receiver() as hooks:
        s = s.model_copy(
            update={"alerts_telegram_url": hooks.url, "alerts_pagerduty_url": f"{hooks.url}/pd"}
        )
        ids = {
            "slack": add_channel(db, project.id, "slack", {"url": f"{hooks.url}/slack"}),
            "discord": add_channel(db, project.id, "discord", {"url": f"{hooks.url}/discord"}),
            "teams": add_channel(db, project.id, "teams", {"url": f"{hooks.url}/teams"}),
            "telegram": add_channel(
                db, project.id, "telegram", {"bot_token": BOT}, {"chat_id": "-100123"}
            ),
            "pagerduty": add_channel(
                db, project.id, "pagerduty", {"routing_key": PD_KEY}, {"severity": "critical"}
            ),
        }
        fired = notice("firing")
        outcomes = deliver(db, s, project.id, list(ids.values()), fired)
        assert {o.status for o in outcomes.values()} == {"sent"}, outcomes
        by_path = {r.path: r for r in hooks.requests}

    slack = by_path["/slack"].json()
    assert slack["text"] == fired.title
    assert slack["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": fired.title},
    }
    assert any("120" in str(block) for block in slack["blocks"])
    assert fired.link in str(slack["blocks"][-1])

    embed = by_path["/discord"].json()["embeds"][0]
    assert embed["title"] == fired.title and embed["url"] == fired.link
    assert by_path["/discord"].json()["allowed_mentions"] == {"parse": []}

    card = by_path["/teams"].json()["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["body"][0]["text"] == fired.title

    telegram = by_path[f"/bot{BOT}/sendMessage"].json()
    assert telegram["chat_id"] == "-100123" and fired.title in telegram["text"]

    pd = by_path["/pd"].json()
    assert pd["routing_key"] == PD_KEY and pd["event_action"] == "trigger"
    assert pd["dedup_key"] == f"logsight-{fired.rule_id}"
    assert pd["payload"]["severity"] == "critical"
    for channel_id in ids.values():
        assert log_of(db, channel_id)[:3] == ("sent", 1, 200)


def test_pagerduty_resolves_the_incident_it_triggered(
    db: psycopg.Connection, s: Settings, project: CreatedProject
) -> None:
    with receiver() as pd:
        s = s.model_copy(update={"alerts_pagerduty_url": pd.url})
        channel = add_channel(db, project.id, "pagerduty", {"routing_key": PD_KEY})
        fired = notice("firing")
        resolved = notice("resolved", rule_id=fired.rule_id)  # type: ignore[arg-type]
        deliver(db, s, project.id, [channel], fired)
        deliver(db, s, project.id, [channel], resolved)
        first, second = (r.json() for r in pd.requests)
    assert first["event_action"] == "trigger" and second["event_action"] == "resolve"
    assert first["dedup_key"] == second["dedup_key"]
    assert "payload" not in second


def verify(received: Received, secret: str, tolerance: int = 300) -> bool:
    """The receiving side, as docs/alerts.md shows it."""
    timestamp = received.headers["x-logsight-timestamp"]
    signature = received.headers["x-logsight-signature"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(signature, "v1=" + expected)


def test_webhook_is_signed_json(
    db: psycopg.Connection, s: Settings, project: CreatedProject
) -> None:
    secret = "whsec-0123456789abcdef"
    with receiver() as hook:
        channel = add_channel(
            db, project.id, "webhook", {"url": f"{hook.url}/in?x=1", "signing_secret": secret}
        )
        fired = notice("firing")
        deliver(db, s, project.id, [channel], fired)
        (got,) = hook.requests
    assert got.path == "/in?x=1"
    assert got.headers["content-type"] == "application/json"
    assert verify(got, secret)
    assert not verify(got, "another-secret-000")
    tampered = Received(got.method, got.path, got.headers, got.body.replace(b"120", b"121"))
    assert not verify(tampered, secret)
    body = got.json()
    assert body["id"] == fired.id and body["kind"] == "firing"
    assert body["entries"][0]["value"] == 120


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, _Inbox]]:
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd needs a port number up front
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, inbox
    controller.stop()


def test_email_over_smtp(
    db: psycopg.Connection,
    s: Settings,
    project: CreatedProject,
    smtp: tuple[Controller, _Inbox],
) -> None:
    controller, inbox = smtp
    s = s.model_copy(
        update={"smtp_port": controller.port, "alerts_email_from": "alerts@logsight.test"}
    )
    channel = add_channel(db, project.id, "email", None, {"to": ["oncall@example.com"]})
    fired = notice("firing")
    outcomes = deliver(db, s, project.id, [channel], fired)
    assert outcomes[channel].status == "sent", outcomes
    (envelope,) = inbox.messages
    assert envelope.rcpt_tos == ["oncall@example.com"]
    assert envelope.mail_from == "alerts@logsight.test"
    assert fired.title.encode() in envelope.content


@mock_aws
def test_email_through_ses(
    db: psycopg.Connection, s: Settings, project: CreatedProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    ses = boto3.client("ses", region_name="eu-west-1")
    ses.verify_email_identity(EmailAddress="alerts@logsight.test")
    s = s.model_copy(
        update={"alerts_email_transport": "ses", "alerts_email_from": "alerts@logsight.test"}
    )
    channel = add_channel(db, project.id, "email", None, {"to": ["oncall@example.com"]})
    outcomes = deliver(db, s, project.id, [channel], notice("firing"))
    assert outcomes[channel].status == "sent", outcomes
    assert ses.get_send_quota()["SentLast24Hours"] == 1
    # An unverified sender is refused by SES: logged as failed, not retried.
    s = s.model_copy(update={"alerts_email_from": "nobody@unverified.test"})
    outcomes = deliver(db, s, project.id, [channel], notice("firing"))
    assert outcomes[channel].status == "failed" and outcomes[channel].attempts == 1
    assert "MessageRejected" in (outcomes[channel].error or "")


def test_failing_and_slow_receivers_are_retried_then_logged_failed_without_holding_up_others(
    db: psycopg.Connection, s: Settings, project: CreatedProject
) -> None:
    good_seen = threading.Event()
    seen_while_slow_was_waiting: list[bool] = []

    def slow(request: Received, count: int) -> tuple[int, dict[str, str], bytes]:
        # The first attempt waits for the healthy channel's request: with concurrent delivery
        # it arrives meanwhile; delivered one after the other it would not.
        seen_while_slow_was_waiting.append(good_seen.wait(5))
        time.sleep(1.0)  # past the 0.5 s timeout
        return 200, {}, b"too late"

    def good(request: Received, count: int) -> tuple[int, dict[str, str], bytes]:
        good_seen.set()
        return 200, {}, b"ok"

    with (
        receiver(slow) as slow_hook,
        receiver(lambda r, c: (500, {}, b"down")) as broken_hook,
        receiver(good) as good_hook,
    ):
        # Created first, so delivered first if deliveries went one by one.
        slow_channel = add_channel(db, project.id, "slack", {"url": slow_hook.url})
        broken_channel = add_channel(db, project.id, "discord", {"url": broken_hook.url})
        good_channel = add_channel(db, project.id, "teams", {"url": good_hook.url})
        deliver(db, s, project.id, [slow_channel, broken_channel, good_channel], notice())
        assert len(broken_hook.requests) == 3
        assert len(good_hook.requests) == 1
    assert seen_while_slow_was_waiting[0] is True
    status, attempts, code, error = log_of(db, slow_channel)
    assert (status, attempts, code) == ("failed", 3, None) and "timed out" in (error or "")
    assert log_of(db, broken_channel)[:3] == ("failed", 3, 500)
    assert "down" in (log_of(db, broken_channel)[3] or "")
    assert log_of(db, good_channel)[:3] == ("sent", 1, 200)


def test_a_client_error_is_not_retried(
    db: psycopg.Connection, s: Settings, project: CreatedProject
) -> None:
    with receiver(lambda r, c: (404, {}, b"no_service")) as hook:
        channel = add_channel(db, project.id, "slack", {"url": hook.url})
        deliver(db, s, project.id, [channel], notice())
        assert len(hook.requests) == 1
    assert log_of(db, channel)[:3] == ("failed", 1, 404)


# -- SSRF ---------------------------------------------------------------------------------------


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every connection urllib3 opens (they are still opened: this only watches)."""
    seen: list[Any] = []
    real = urllib3.util.connection.create_connection

    def watched(address: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", watched)
    return seen


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/hook",
        "http://[fd00:ec2::254]/",
        "http://100.64.0.1/",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
        "http://0.0.0.0/",
    ],
)
def test_internal_addresses_are_refused_without_connecting(url: str, connects: list[Any]) -> None:
    client = GuardedClient([], timeout=0.5)
    with pytest.raises(Refused):
        client.post(url, b"{}", {})
    assert connects == []


def test_loopback_by_address_or_by_name_is_refused_without_the_allow_list(
    connects: list[Any],
) -> None:
    client = GuardedClient([], timeout=0.5)
    with receiver(host="::1") as v6, receiver() as v4:
        for url in (
            f"http://[::1]:{v6.port}/",
            f"http://127.0.0.1:{v4.port}/",
            # A name that resolves to a loopback address.
            f"http://localhost:{v4.port}/",
        ):
            with pytest.raises(Refused):
                client.post(url, b"{}", {})
        assert v6.connections == 0 and v4.connections == 0
    assert connects == []


def test_a_redirect_to_an_internal_address_is_not_followed(
    db: psycopg.Connection, s: Settings, project: CreatedProject, connects: list[Any]
) -> None:
    # Only 127.0.0.1 is allowed; the redirect points at another loopback address.
    s = s.model_copy(update={"alerts_allowed_networks": "127.0.0.1/32"})
    with receiver(host="127.0.0.2") as internal:
        target = f"http://127.0.0.2:{internal.port}/latest/meta-data/"
        with receiver(lambda r, c: (302, {"location": target}, b"")) as hook:
            channel = add_channel(db, project.id, "slack", {"url": hook.url})
            deliver(db, s, project.id, [channel], notice())
            assert len(hook.requests) == 1
        assert internal.connections == 0
    status, attempts, code, error = log_of(db, channel)
    assert (status, attempts, code) == ("failed", 1, 302)
    assert "redirect" in (error or "")
    assert [address[0] for address in connects] == ["127.0.0.1"]


def test_a_refused_destination_is_logged_and_never_retried(
    db: psycopg.Connection, s: Settings, project: CreatedProject, connects: list[Any]
) -> None:
    channel = add_channel(
        db,
        project.id,
        "webhook",
        {
            "url": "http://169.254.169.254/latest/meta-data/iam/",
            "signing_secret": "0123456789abcdef",
        },
    )
    deliver(db, s, project.id, [channel], notice())
    status, attempts, code, error = log_of(db, channel)
    assert (status, attempts, code) == ("failed", 1, None)
    assert (error or "").startswith("refused:")
    assert connects == []


def test_public_addresses_pass_the_guard() -> None:
    for address in (
        "93.184.215.14",
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
        "64:ff9b::5db8:d70e",
    ):
        assert not forbidden(ipaddress.ip_address(address), [])


def test_the_allow_list_parses_addresses_and_networks() -> None:
    networks = parse_networks(" 127.0.0.1, 10.1.0.0/16 ,::1 ")
    assert [str(n) for n in networks] == ["127.0.0.1/32", "10.1.0.0/16", "::1/128"]
    assert Sender(Settings(alerts_allowed_networks="10.0.0.0/8")).client.allowed == [
        parse_networks("10.0.0.0/8")[0]
    ]


def test_https_goes_to_the_vetted_address_and_verifies_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connects: list[Any]
) -> None:
    authority = Authority.create(tmp_path)
    # The trust store for this test: only our CA (read by OpenSSL's default verify paths).
    monkeypatch.setenv("SSL_CERT_FILE", str(authority.bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    client = GuardedClient(parse_networks("127.0.0.1/32,::1/128"), timeout=2)
    with receiver(tls=authority.server_context("localhost")) as right:
        # By name: connected to the address "localhost" was vetted as, certificate checked
        # against the name (SNI and hostname), not against the address.
        response = client.post(f"https://localhost:{right.port}/hook", b"{}", {})
        assert response.status == 200
        (got,) = right.requests
        assert got.headers["host"] == f"localhost:{right.port}"
    assert {address[0] for address in connects} <= {"127.0.0.1", "::1"}
    with receiver(tls=authority.server_context("elsewhere.test")) as wrong:
        with pytest.raises(urllib3.exceptions.SSLError):
            client.post(f"https://localhost:{wrong.port}/hook", b"{}", {})
        assert wrong.requests == []


def test_deleting_a_channel_fails_what_was_pending_for_it(
    db: psycopg.Connection, s: Settings, project: CreatedProject
) -> None:
    with receiver() as hook:
        gone = add_channel(db, project.id, "slack", {"url": hook.url})
        kept = add_channel(db, project.id, "discord", {"url": hook.url})
        pending = notice()
        writes.create_notification(
            db,
            notification_id=UUID(pending.id),
            project_id=project.id,
            rule_id=None,
            kind="test",
            payload=pending.model_dump(mode="json"),
            channel_ids=[gone, kept],
        )
        writes.delete_channel(db, gone)
        outcomes = Deliverer(s, BOX, Sender(s)).run(db, [UUID(pending.id)])
        assert [o.status for o in outcomes.values()] == ["sent"]
        assert len(hook.requests) == 1
    rows = db.execute(
        "SELECT channel_type, status, error FROM alert_deliveries WHERE notification_id = %s"
        " ORDER BY channel_type",
        (pending.id,),
    ).fetchall()
    assert rows == [("discord", "sent", None), ("slack", "failed", "channel deleted")]
