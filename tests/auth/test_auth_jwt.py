"""Bearer JWTs of external issuers (Clerk, OIDC) verified against a REAL JWKS endpoint on
127.0.0.1, and the forgery suite: every crafted token gets 401."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from logsight.config import Settings
from tests.support.api import ApiCaller, make_organization
from tests.support.jwks_server import (
    IdpKey,
    JwksServer,
    claims,
    ec_key,
    ed_key,
    hmac_with_public_key,
    rsa_key,
    tampered,
    unsigned,
)

AUDIENCE = "logsight-api"
ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def keys() -> dict[str, IdpKey]:
    return {"clerk": rsa_key(), "oidc": ec_key(), "oidc-ed": ed_key(), "rogue": rsa_key()}


@pytest.fixture
def server(keys: dict[str, IdpKey]) -> Iterator[JwksServer]:
    running = JwksServer().start()
    running.serve("clerk", keys["clerk"])
    running.serve("oidc", keys["oidc"], keys["oidc-ed"])
    yield running
    running.stop()


@pytest.fixture
def auth_settings(settings: Settings, server: JwksServer, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "clerk_issuer_url": server.issuer("clerk"),
            "oidc_issuer_url": server.issuer("oidc"),
            "oidc_audience": AUDIENCE,
            "allowed_origins": ORIGIN,
            "data_dir": tmp_path,
            "jwks_refresh_cooldown_seconds": 0,
        }
    )


@pytest.fixture
def api(auth_settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(auth_settings)
    yield caller
    caller.close()


def clerk_claims(server: JwksServer, **extra: Any) -> dict[str, Any]:
    return claims(server.issuer("clerk"), **{"azp": ORIGIN, "sid": "sess_1", **extra})


def oidc_claims(server: JwksServer, **extra: Any) -> dict[str, Any]:
    return claims(server.issuer("oidc"), **{"aud": AUDIENCE, **extra})


def test_clerk_token_provisions_the_user_once(
    api: ApiCaller, server: JwksServer, keys: dict[str, IdpKey], db: psycopg.Connection
) -> None:
    payload = clerk_claims(server, email="ada@clerk.example")
    token = keys["clerk"].sign(payload)
    first = api("GET", "/api/users/me", token=token)
    assert first.status == 200, first.body
    assert first.body["email"] == "ada@clerk.example"
    assert first.body["has_password"] is False
    assert first.body["organizations"] == []
    again = api(
        "GET", "/api/users/me", token=keys["clerk"].sign(clerk_claims(server, sub=payload["sub"]))
    )
    assert again.status == 200
    assert again.body["id"] == first.body["id"]
    row = db.execute(
        "SELECT external_issuer, external_subject FROM users WHERE id = %s", (first.body["id"],)
    ).fetchone()
    assert row == (server.issuer("clerk"), payload["sub"])
    # One key-set fetch served both requests.
    assert server.fetch_count("clerk") == 1


def test_provisioned_user_sees_organizations_joined_later(
    api: ApiCaller, server: JwksServer, keys: dict[str, IdpKey], db: psycopg.Connection
) -> None:
    payload = oidc_claims(server)
    token = keys["oidc"].sign(payload)
    me = api("GET", "/api/users/me", token=token)
    assert me.status == 200, me.body
    # Without an email claim the user gets an address that can never match an invitation.
    assert me.body["email"].endswith(".invalid")
    org_id = make_organization(db)
    db.execute(
        "INSERT INTO memberships (organization_id, user_id, role) VALUES (%s, %s, 'admin')",
        (org_id, me.body["id"]),
    )
    orgs = api("GET", "/api/users/me", token=token).body["organizations"]
    assert [(o["id"], o["role"]) for o in orgs] == [(str(org_id), "admin")]


@pytest.mark.parametrize("key_name", ["oidc", "oidc-ed"])
def test_oidc_tokens_by_discovery_es256_and_eddsa(
    api: ApiCaller, server: JwksServer, keys: dict[str, IdpKey], key_name: str
) -> None:
    token = keys[key_name].sign(
        oidc_claims(server, email=f"{key_name}-{time.time_ns()}@idp.example")
    )
    reply = api("GET", "/api/users/me", token=token)
    assert reply.status == 200, reply.body
    assert reply.body["email"].endswith("@idp.example")


def test_oidc_with_an_explicit_jwks_url_and_cognito_access_tokens(
    auth_settings: Settings, server: JwksServer, keys: dict[str, IdpKey]
) -> None:
    # The issuer has no discovery document here: the configured JWKS URL is used.
    server.serve("cognito", keys["oidc"])
    settings = auth_settings.model_copy(
        update={
            "oidc_issuer_url": f"{server.url}/no-discovery",
            "oidc_jwks_url": f"{server.issuer('cognito')}/keys",
        }
    )
    api = ApiCaller(settings)
    try:
        issuer = f"{server.url}/no-discovery"
        id_token = keys["oidc"].sign(claims(issuer, aud=AUDIENCE))
        assert api("GET", "/api/users/me", token=id_token).status == 200
        # Cognito access tokens name the app client in client_id and carry no aud.
        access = claims(issuer, token_use="access", client_id=AUDIENCE)
        assert api("GET", "/api/users/me", token=keys["oidc"].sign(access)).status == 200
        foreign = claims(issuer, token_use="access", client_id="another-app")
        assert api("GET", "/api/users/me", token=keys["oidc"].sign(foreign)).status == 401
    finally:
        api.close()


Forgery = Callable[[JwksServer, dict[str, IdpKey]], str]

FORGERIES: dict[str, Forgery] = {
    "alg none": lambda s, k: unsigned(clerk_claims(s), k["clerk"].kid),
    "HS256 signed with the public key": lambda s, k: hmac_with_public_key(
        clerk_claims(s), k["clerk"].kid, k["clerk"].public_pem()
    ),
    "expired": lambda s, k: k["clerk"].sign(clerk_claims(s, exp=int(time.time()) - 120)),
    "not yet valid (nbf)": lambda s, k: k["oidc"].sign(oidc_claims(s, nbf=int(time.time()) + 600)),
    "unconfigured iss": lambda s, k: k["clerk"].sign(claims(f"{s.url}/evil", azp=ORIGIN)),
    "trusted key, another issuer's iss": lambda s, k: k["oidc"].sign(clerk_claims(s)),
    "wrong aud": lambda s, k: k["oidc"].sign(claims(s.issuer("oidc"), aud="someone-else")),
    "missing aud": lambda s, k: k["oidc"].sign(claims(s.issuer("oidc"))),
    "unknown kid": lambda s, k: IdpKey("no-such-kid", "RS256", k["rogue"].private_key).sign(
        clerk_claims(s)
    ),
    "right kid, wrong key": lambda s, k: IdpKey(
        k["clerk"].kid, "RS256", k["rogue"].private_key
    ).sign(clerk_claims(s)),
    "tampered payload": lambda s, k: tampered(k["clerk"].sign(clerk_claims(s)), sub="user_admin"),
    "Clerk token with a foreign azp": lambda s, k: k["clerk"].sign(
        claims(s.issuer("clerk"), azp="https://evil.example")
    ),
    "missing exp": lambda s, k: k["clerk"].sign(
        {key: v for key, v in clerk_claims(s).items() if key != "exp"}
    ),
    "RS256 header on an EC key's kid": lambda s, k: IdpKey(
        k["oidc"].kid, "RS256", k["rogue"].private_key
    ).sign(oidc_claims(s)),
    "garbage": lambda s, k: "not.a.jwt",
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_forged_tokens_are_rejected(
    api: ApiCaller, server: JwksServer, keys: dict[str, IdpKey], name: str
) -> None:
    token = FORGERIES[name](server, keys)
    reply = api("GET", "/api/users/me", token=token)
    assert reply.status == 401, (name, reply.body)
    assert reply.error["code"] in {"unauthorized", "token_expired"}
    assert reply.headers["www-authenticate"].startswith("Bearer")


def test_forgeries_do_not_provision_users(
    api: ApiCaller, server: JwksServer, keys: dict[str, IdpKey], db: psycopg.Connection
) -> None:
    payload = clerk_claims(server, azp="https://evil.example")
    assert api("GET", "/api/users/me", token=keys["clerk"].sign(payload)).status == 401
    found = db.execute("SELECT 1 FROM users WHERE external_subject = %s", (payload["sub"],))
    assert found.fetchone() is None


def test_rotation_at_the_provider_refetches_the_key_set(
    api: ApiCaller, server: JwksServer, keys: dict[str, IdpKey]
) -> None:
    old = keys["clerk"]
    assert api("GET", "/api/users/me", token=old.sign(clerk_claims(server))).status == 200
    assert server.fetch_count("clerk") == 1
    new = rsa_key()
    server.serve("clerk", new, old)
    # The cached set does not know the new kid: one refetch, then the token verifies.
    assert api("GET", "/api/users/me", token=new.sign(clerk_claims(server))).status == 200
    assert server.fetch_count("clerk") == 2
    assert api("GET", "/api/users/me", token=new.sign(clerk_claims(server))).status == 200
    assert server.fetch_count("clerk") == 2
    # The provider drops the old key: tokens it signed stop verifying after the next refetch.
    server.serve("clerk", new)
    stale = IdpKey("gone", "RS256", old.private_key).sign(clerk_claims(server))
    assert api("GET", "/api/users/me", token=stale).status == 401
    assert server.fetch_count("clerk") == 3


def test_unknown_kids_refetch_at_most_once_per_cooldown(
    auth_settings: Settings, server: JwksServer, keys: dict[str, IdpKey]
) -> None:
    api = ApiCaller(auth_settings.model_copy(update={"jwks_refresh_cooldown_seconds": 60}))
    try:
        assert (
            api("GET", "/api/users/me", token=keys["clerk"].sign(clerk_claims(server))).status
            == 200
        )
        for n in range(5):
            forged = IdpKey(f"random-{n}", "RS256", keys["rogue"].private_key)
            assert (
                api("GET", "/api/users/me", token=forged.sign(clerk_claims(server))).status == 401
            )
        assert server.fetch_count("clerk") == 1
    finally:
        api.close()


def test_unreachable_provider_is_503_not_401(
    auth_settings: Settings, keys: dict[str, IdpKey]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    issuer = f"http://127.0.0.1:{port}/clerk"
    api = ApiCaller(auth_settings.model_copy(update={"clerk_issuer_url": issuer}))
    try:
        token = keys["clerk"].sign(claims(issuer, azp=ORIGIN))
        reply = api("GET", "/api/users/me", token=token)
        assert reply.status == 503, reply.body
        assert reply.error["code"] == "issuer_unavailable"
        assert "retry-after" in reply.headers
    finally:
        api.close()


def test_disabled_external_user_gets_401(
    api: ApiCaller, server: JwksServer, keys: dict[str, IdpKey], db: psycopg.Connection
) -> None:
    payload = clerk_claims(server)
    me = api("GET", "/api/users/me", token=keys["clerk"].sign(payload))
    assert me.status == 200
    db.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (me.body["id"],))
    reply = api("GET", "/api/users/me", token=keys["clerk"].sign(payload))
    assert reply.status == 401


def test_taken_email_is_not_linked_to_an_external_identity(
    api: ApiCaller, server: JwksServer, keys: dict[str, IdpKey], db: psycopg.Connection
) -> None:
    email = f"victim-{time.time_ns()}@example.com"
    db.execute("INSERT INTO users (email, password_hash) VALUES (%s, 'x')", (email,))
    me = api("GET", "/api/users/me", token=keys["clerk"].sign(clerk_claims(server, email=email)))
    assert me.status == 200
    assert me.body["email"] != email
    assert me.body["email"].endswith(".invalid")


def test_clerk_azp_is_not_checked_without_allowed_origins(
    auth_settings: Settings, server: JwksServer, keys: dict[str, IdpKey]
) -> None:
    api = ApiCaller(auth_settings.model_copy(update={"allowed_origins": ""}))
    try:
        token = keys["clerk"].sign(claims(server.issuer("clerk"), azp="https://any.example"))
        assert api("GET", "/api/users/me", token=token).status == 200
    finally:
        api.close()


def test_no_network_until_the_first_token(auth_settings: Settings, server: JwksServer) -> None:
    api = ApiCaller(auth_settings)
    try:
        assert api("GET", "/api/health").status == 200
        assert server.fetch_count("clerk") == 0
        assert server.fetch_count("oidc") == 0
        assert not (auth_settings.data_dir / "keys").exists()
    finally:
        api.close()


def test_oidc_needs_an_audience(auth_settings: Settings) -> None:
    with pytest.raises(ValueError, match="LOGSIGHT_OIDC_AUDIENCE"):
        ApiCaller(auth_settings.model_copy(update={"oidc_audience": None}))
