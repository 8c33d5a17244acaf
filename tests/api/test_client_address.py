"""Which address the API believes a request came from.

On AWS the API sits behind CloudFront, so API Gateway's sourceIp is a CloudFront edge server,
shared by everyone that edge serves. CloudFront's ``CloudFront-Viewer-Address`` header names the
viewer, but anyone can send that header straight to the API Gateway URL: it is believed only
when the request also carries the secret that CloudFront adds as an origin header.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from logsight.api.client_address import CLOUDFRONT_SECRET_HEADER, viewer_ip
from logsight.auth.bootstrap import create_account
from logsight.config import Settings
from logsight.local.context import LocalContext
from logsight.local.payloads import http_api_event
from tests.support.api import ApiCaller

SECRET = "s3cret-from-the-stack"
PASSWORD = "correct horse battery staple"
EDGE = "130.176.12.34"  # a CloudFront edge server: the sourceIp API Gateway sees


@pytest.fixture
def edge_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"data_dir": tmp_path, "cloudfront_secret": SECRET})


@pytest.fixture
def api(edge_settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(edge_settings)
    yield caller
    caller.close()


def login(api: ApiCaller, email: str, password: str, headers: dict[str, str]) -> int:
    event = http_api_event(
        method="POST",
        path="/api/auth/login",
        query_string="",
        headers=[("content-type", "application/json"), *headers.items()],
        body=orjson.dumps({"email": email, "password": password}),
        source_ip=EDGE,
    )
    result: dict[str, Any] = api.handler(event, LocalContext("logsight-api", 29))  # type: ignore[arg-type]
    return int(result["statusCode"])


def account(db: psycopg.Connection) -> str:
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    create_account(db, email, password=PASSWORD)
    return email


def last_login_ip(db: psycopg.Connection, email: str) -> str:
    row = db.execute(
        "SELECT a.ip FROM audit_log a JOIN users u ON u.id = a.actor_user_id"
        " WHERE u.email = %s AND a.action = 'auth.login' ORDER BY a.id DESC LIMIT 1",
        (email,),
    ).fetchone()
    assert row is not None
    return str(row[0])


def through_cloudfront(viewer: str, secret: str = SECRET) -> dict[str, str]:
    return {CLOUDFRONT_SECRET_HEADER: secret, "cloudfront-viewer-address": viewer}


def test_viewer_address_format() -> None:
    assert viewer_ip("198.51.100.7:46532") == "198.51.100.7"
    # CloudFront writes IPv6 addresses unbracketed, the port after the last colon.
    assert viewer_ip("2001:db8:85a3::8a2e:370:7334:46532") == "2001:db8:85a3::8a2e:370:7334"
    assert viewer_ip("[2001:db8::7]:443") == "2001:db8::7"
    assert viewer_ip(" 198.51.100.7:1 ") == "198.51.100.7"
    for bad in ("", "198.51.100.7", "198.51.100.7:x", "198.51.100.7:70000", "evil:80", "a, b"):
        assert viewer_ip(bad) is None, bad


def test_the_viewer_address_is_believed_through_cloudfront(
    api: ApiCaller, db: psycopg.Connection
) -> None:
    email = account(db)
    assert login(api, email, PASSWORD, through_cloudfront("198.51.100.7:46532")) == 200
    assert last_login_ip(db, email) == "198.51.100.7"
    assert login(api, email, PASSWORD, through_cloudfront("2001:db8::7:46532")) == 200
    assert last_login_ip(db, email) == "2001:db8::7"


@pytest.mark.parametrize(
    "headers",
    [
        # Straight to the API Gateway URL with a forged header: no secret, or a guessed one.
        {"cloudfront-viewer-address": "198.51.100.7:46532"},
        through_cloudfront("198.51.100.7:46532", secret="guess"),
        through_cloudfront("198.51.100.7:46532", secret=SECRET.upper()),
        # The secret but no usable viewer address.
        through_cloudfront("not an address"),
        {CLOUDFRONT_SECRET_HEADER: SECRET},
        # Forwarding headers a client can write are never believed.
        {"x-forwarded-for": "198.51.100.7", "x-real-ip": "198.51.100.7"},
    ],
)
def test_a_forged_viewer_address_is_not_believed(
    api: ApiCaller, db: psycopg.Connection, headers: dict[str, str]
) -> None:
    email = account(db)
    assert login(api, email, PASSWORD, headers) == 200
    assert last_login_ip(db, email) == EDGE


def test_without_a_configured_secret_the_header_is_ignored(
    settings: Settings, tmp_path: Path, db: psycopg.Connection
) -> None:
    plain = ApiCaller(settings.model_copy(update={"data_dir": tmp_path}))
    try:
        email = account(db)
        assert login(plain, email, PASSWORD, through_cloudfront("198.51.100.7:1")) == 200
        assert login(plain, email, PASSWORD, through_cloudfront("198.51.100.7:1", "")) == 200
        assert last_login_ip(db, email) == EDGE
    finally:
        plain.close()


def test_an_attacker_behind_the_same_edge_does_not_slow_the_owner(
    api: ApiCaller, db: psycopg.Connection
) -> None:
    email = account(db)
    attacker = through_cloudfront("203.0.113.66:5000")
    statuses = [login(api, email, "guess", attacker) for _ in range(6)]
    assert statuses[-1] == 429
    # Same CloudFront edge, another viewer network: not slowed.
    assert login(api, email, PASSWORD, through_cloudfront("198.51.100.10:6000")) == 200
