"""The built-in issuer through Mangum: login, refresh rotation and reuse detection, logout,
password change, throttling, disabled users, forged tokens, the published JWKS."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
import orjson
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from logsight.auth import passwords, sessions, throttle
from logsight.auth.bootstrap import create_account
from logsight.auth.signing_keys import KeyRing
from logsight.config import Settings
from logsight.errors import ApiError
from logsight.local.context import LocalContext
from logsight.local.payloads import http_api_event
from logsight.tenancy import api_tokens
from logsight.tenancy.access import Role
from tests.support.api import ApiCaller, Reply, make_member, make_organization
from tests.support.jwks_server import IdpKey, hmac_with_public_key, tampered, unsigned

PASSWORD = "correct horse battery staple"


@pytest.fixture
def auth_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"data_dir": tmp_path})


@pytest.fixture
def api(auth_settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(auth_settings)
    yield caller
    caller.close()


def call(
    api: ApiCaller,
    method: str,
    path: str,
    *,
    ip: str = "198.51.100.1",
    json: Any = None,
    token: str | None = None,
) -> Reply:
    """Like ApiCaller, from a chosen client address (throttling counts per address)."""
    headers = [("content-type", "application/json")]
    if token:
        headers.append(("authorization", f"Bearer {token}"))
    event = http_api_event(
        method=method,
        path=path,
        query_string="",
        headers=headers,
        body=orjson.dumps(json) if json is not None else b"",
        source_ip=ip,
    )
    result = api.handler(event, LocalContext("logsight-api", 29))  # type: ignore[arg-type]
    raw = result.get("body") or ""
    body = orjson.loads(raw) if raw else None
    return Reply(result["statusCode"], {k.lower(): v for k, v in result["headers"].items()}, body)


def unique_ip() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def new_account(db: psycopg.Connection, role: str = "owner") -> tuple[str, UUID, UUID]:
    """(email, user id, organization id): a built-in account in a fresh organization."""
    org_id = make_organization(db)
    slug = db.execute("SELECT slug FROM organizations WHERE id = %s", (org_id,)).fetchone()
    assert slug is not None
    email = f"person-{uuid.uuid4().hex[:8]}@example.com"
    user_id, _ = create_account(
        db, email, organization_slug=slug[0], role=Role(role), password=PASSWORD
    )
    return email, user_id, org_id


def login(api: ApiCaller, email: str, password: str = PASSWORD, ip: str | None = None) -> Reply:
    return call(
        api,
        "POST",
        "/api/auth/login",
        ip=ip or unique_ip(),
        json={"email": email, "password": password},
    )


def audit_actions(db: psycopg.Connection, user_id: UUID) -> list[str]:
    rows = db.execute(
        "SELECT action FROM audit_log WHERE actor_user_id = %s ORDER BY id", (user_id,)
    ).fetchall()
    return [r[0] for r in rows]


def test_login_returns_tokens_that_work(
    api: ApiCaller, db: psycopg.Connection, auth_settings: Settings
) -> None:
    email, user_id, org_id = new_account(db)
    reply = login(api, email.upper(), ip="198.51.100.77")
    assert reply.status == 200, reply.body
    assert reply.body["token_type"] == "Bearer"
    assert reply.body["expires_in"] == auth_settings.access_token_seconds
    assert reply.body["refresh_expires_in"] == auth_settings.refresh_token_days * 86400
    access = reply.body["access_token"]
    header = jwt.get_unverified_header(access)
    assert header["alg"] == "ES256" and header["kid"]
    claims = jwt.decode(access, options={"verify_signature": False})
    assert claims["iss"] == claims["aud"] == auth_settings.auth_issuer
    assert claims["sub"] == str(user_id)
    assert claims["exp"] - claims["iat"] == auth_settings.access_token_seconds

    me = call(api, "GET", "/api/users/me", token=access)
    assert me.status == 200, me.body
    assert me.body["id"] == str(user_id)
    assert me.body["email"] == email
    assert me.body["has_password"] is True
    assert me.body["last_login_at"] is not None
    assert [(o["id"], o["role"]) for o in me.body["organizations"]] == [(str(org_id), "owner")]

    row = db.execute(
        "SELECT ip, organization_id FROM audit_log WHERE actor_user_id = %s AND action = 'auth.login'",
        (user_id,),
    ).fetchone()
    assert row == ("198.51.100.77", None)


def test_passwords_are_argon2id_with_owasp_parameters(db: psycopg.Connection) -> None:
    _, user_id, _ = new_account(db)
    row = db.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,)).fetchone()
    assert row is not None
    assert row[0].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in row[0]


def test_wrong_password_and_unknown_account_look_the_same(
    api: ApiCaller, db: psycopg.Connection
) -> None:
    email, user_id, _ = new_account(db)
    wrong = login(api, email, "not the password")
    unknown = login(api, f"nobody-{uuid.uuid4().hex[:6]}@example.com")
    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body
    assert wrong.error["code"] == "invalid_credentials"
    assert audit_actions(db, user_id) == ["auth.login_failed"]
    details = db.execute(
        "SELECT details FROM audit_log WHERE action = 'auth.login_failed' AND actor_user_id IS NULL"
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert details is not None and details[0]["reason"] == "unknown_account"


def test_refresh_rotates_and_reuse_revokes_the_family(
    api: ApiCaller, db: psycopg.Connection
) -> None:
    email, user_id, _ = new_account(db)
    first = login(api, email).body
    other_device = login(api, email).body

    second = call(api, "POST", "/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status == 200, second.body
    assert second.body["refresh_token"] != first["refresh_token"]
    assert call(api, "GET", "/api/users/me", token=second.body["access_token"]).status == 200

    # The first refresh token again: someone else holds it too. The whole family ends.
    reused = call(api, "POST", "/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status == 401
    assert reused.error["code"] == "refresh_token_reused"
    after = call(
        api, "POST", "/api/auth/refresh", json={"refresh_token": second.body["refresh_token"]}
    )
    assert after.status == 401
    assert after.error["code"] == "invalid_refresh_token"
    # Access tokens of the revoked family stop working before they expire.
    for token in (first["access_token"], second.body["access_token"]):
        assert call(api, "GET", "/api/users/me", token=token).status == 401
    # The other login is another family: untouched.
    assert call(api, "GET", "/api/users/me", token=other_device["access_token"]).status == 200
    assert "auth.refresh_reused" in audit_actions(db, user_id)

    unknown = call(api, "POST", "/api/auth/refresh", json={"refresh_token": "lsr_nope"})
    assert unknown.status == 401


def test_concurrent_refreshes_of_one_token_let_exactly_one_win(
    api: ApiCaller, db: psycopg.Connection, database_url: str
) -> None:
    email, _, _ = new_account(db)
    token = login(api, email).body["refresh_token"]

    def attempt(_: int) -> object:
        with psycopg.connect(database_url, autocommit=True) as conn:
            return sessions.rotate(conn, token, timedelta(days=1))

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(attempt, range(4)))
    assert sum(isinstance(r, sessions.Rotated) for r in results) == 1


def test_logout_revokes_the_family(api: ApiCaller, db: psycopg.Connection) -> None:
    email, user_id, _ = new_account(db)
    session = login(api, email).body
    other = login(api, email).body
    out = call(api, "POST", "/api/auth/logout", json={"refresh_token": session["refresh_token"]})
    assert out.status == 204
    assert call(api, "GET", "/api/users/me", token=session["access_token"]).status == 401
    again = call(api, "POST", "/api/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert again.status == 401
    assert call(api, "GET", "/api/users/me", token=other["access_token"]).status == 200
    # Idempotent, and says nothing about tokens it does not know.
    assert (
        call(
            api, "POST", "/api/auth/logout", json={"refresh_token": session["refresh_token"]}
        ).status
        == 204
    )
    assert (
        call(api, "POST", "/api/auth/logout", json={"refresh_token": "lsr_unknown"}).status == 204
    )
    assert audit_actions(db, user_id).count("auth.logout") == 1


def test_password_change_ends_every_session(api: ApiCaller, db: psycopg.Connection) -> None:
    email, user_id, _ = new_account(db)
    laptop = login(api, email).body
    phone = login(api, email).body
    path = "/api/users/me/password"

    wrong = call(
        api,
        "POST",
        path,
        token=laptop["access_token"],
        json={"current_password": "guess", "new_password": "a brand new secret"},
    )
    assert wrong.status == 400
    assert wrong.error["field"] == "current_password"
    short = call(
        api,
        "POST",
        path,
        token=laptop["access_token"],
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert short.status == 422

    changed = call(
        api,
        "POST",
        path,
        token=laptop["access_token"],
        json={"current_password": PASSWORD, "new_password": "a brand new secret"},
    )
    assert changed.status == 200, changed.body
    for old in (laptop, phone):
        assert call(api, "GET", "/api/users/me", token=old["access_token"]).status == 401
        assert (
            call(
                api, "POST", "/api/auth/refresh", json={"refresh_token": old["refresh_token"]}
            ).status
            == 401
        )
    assert call(api, "GET", "/api/users/me", token=changed.body["access_token"]).status == 200
    assert login(api, email).status == 401
    assert login(api, email, "a brand new secret").status == 200
    actions = audit_actions(db, user_id)
    assert "user.password_changed" in actions and "user.password_change_failed" in actions


def test_password_change_needs_a_password_and_write_scope(
    api: ApiCaller, db: psycopg.Connection
) -> None:
    org_id = make_organization(db)
    body = {"current_password": "x", "new_password": "long enough secret"}
    external = make_member(db, org_id, "member")
    reply = call(api, "POST", "/api/users/me/password", token=external.token, json=body)
    assert reply.status == 400
    assert reply.error["code"] == "no_password"
    read_only = make_member(db, org_id, "member", scope="read")
    assert (
        call(api, "POST", "/api/users/me/password", token=read_only.token, json=body).status == 403
    )
    assert call(api, "GET", "/api/users/me", token=read_only.token).status == 200


def change_password(api: ApiCaller, token: str, new: str, **extra: Any) -> Reply:
    return call(
        api,
        "POST",
        "/api/users/me/password",
        token=token,
        json={"current_password": PASSWORD, "new_password": new, **extra},
    )


def test_common_passwords_and_the_email_are_refused(api: ApiCaller, db: psycopg.Connection) -> None:
    email, user_id, _ = new_account(db)
    token = login(api, email).body["access_token"]
    local_part = email.split("@")[0]
    # Well-known passwords in any case, the address itself and its local part.
    for weak in ("password1", "IloveYou", "QWERTYUIOP", "baseball", email.upper(), local_part):
        reply = change_password(api, token, weak)
        assert reply.status == 422, (weak, reply.body)
        assert reply.error["code"] == "weak_password"
        assert reply.error["field"] == "body.new_password"
    # Refused before anything changed: the old password and the session still work.
    assert call(api, "GET", "/api/users/me", token=token).status == 200
    assert "user.password_changed" not in audit_actions(db, user_id)
    assert change_password(api, token, "a brand new secret").status == 200


def test_accounts_are_not_created_with_a_weak_password(db: psycopg.Connection) -> None:
    email = f"weak-{uuid.uuid4().hex[:8]}@example.com"
    for weak in ("password1", email, "short"):
        with pytest.raises(ApiError) as refused:
            create_account(db, email, password=weak)
        assert refused.value.status == 422
        assert refused.value.code == "weak_password"
        assert refused.value.field == "password"
    assert db.execute("SELECT 1 FROM users WHERE email = %s", (email,)).fetchone() is None
    # Generated passwords (the CLI, the first admin) pass the same rules.
    _, generated = create_account(db, email)
    assert passwords.problem(generated, email) is None


def test_password_policy_messages() -> None:
    assert passwords.problem("correct horse battery staple", "a@example.com") is None
    assert "common" in (passwords.problem("Dragon123", "a@example.com") or "")
    assert "email" in (passwords.problem(" A@Example.com ", "a@example.com") or "")
    assert "email" in (passwords.problem("someone-long", "Someone-Long@example.com") or "")
    assert "8" in (passwords.problem("abc", "a@example.com") or "")


def make_tokens(db: psycopg.Connection, user_id: UUID) -> list[api_tokens.IssuedToken]:
    issued = [api_tokens.issue(db, user_id, name=f"script {n}", scope="write") for n in range(2)]
    gone = api_tokens.issue(db, user_id, name="already revoked", scope="read")
    db.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s", (gone.id,))
    return issued


def test_password_change_revokes_api_tokens_by_default(
    api: ApiCaller, db: psycopg.Connection
) -> None:
    email, user_id, _ = new_account(db)
    issued = make_tokens(db, user_id)
    _, other_id, _ = new_account(db)
    bystander, _ = make_tokens(db, other_id)
    token = login(api, email).body["access_token"]
    for t in issued:
        assert call(api, "GET", "/api/users/me", token=t.token).status == 200

    reply = change_password(api, token, "a brand new secret")
    assert reply.status == 200, reply.body
    assert reply.body["revoked_sessions"] == 1
    revoked = sorted(reply.body["revoked_api_tokens"], key=lambda t: t["name"])
    assert revoked == [
        {"id": str(t.id), "name": f"script {n}", "prefix": t.prefix} for n, t in enumerate(issued)
    ]
    for t in issued:
        assert call(api, "GET", "/api/users/me", token=t.token).status == 401
    # Another user's tokens are theirs.
    assert call(api, "GET", "/api/users/me", token=bystander.token).status == 200
    assert call(api, "GET", "/api/users/me", token=reply.body["access_token"]).status == 200

    rows = db.execute(
        "SELECT action, target_id, details FROM audit_log WHERE actor_user_id = %s"
        " AND action IN ('token.revoked', 'user.password_changed') ORDER BY id",
        (user_id,),
    ).fetchall()
    assert sorted((a, t) for a, t, _ in rows if a == "token.revoked") == sorted(
        ("token.revoked", str(t.id)) for t in issued
    )
    assert all(d["reason"] == "password_changed" for a, _, d in rows if a == "token.revoked")
    changed = next(d for a, _, d in rows if a == "user.password_changed")
    assert changed["revoked_sessions"] == 1
    assert sorted(changed["revoked_api_tokens"]) == sorted(str(t.id) for t in issued)


def test_password_change_can_keep_api_tokens(api: ApiCaller, db: psycopg.Connection) -> None:
    email, user_id, _ = new_account(db)
    issued = make_tokens(db, user_id)
    token = login(api, email).body["access_token"]
    reply = change_password(api, token, "a brand new secret", revoke_api_tokens=False)
    assert reply.status == 200, reply.body
    assert reply.body["revoked_api_tokens"] == []
    for t in issued:
        assert call(api, "GET", "/api/users/me", token=t.token).status == 200
    assert "token.revoked" not in audit_actions(db, user_id)
    # Sessions end either way.
    assert call(api, "GET", "/api/users/me", token=token).status == 401


def throttled_api(settings: Settings, **limits: Any) -> ApiCaller:
    # Other tests fail logins too, from their own networks; these limits are this test's.
    return ApiCaller(settings.model_copy(update=limits))


def unique_network() -> str:
    """A /24 of its own: x.y.z.0 (addresses in it are x.y.z.1 ... x.y.z.254)."""
    n = uuid.uuid4().int
    return f"{n % 200 + 11}.{(n >> 8) % 250}.{(n >> 16) % 250}"


def test_failures_of_one_network_slow_it_down_progressively(
    auth_settings: Settings, db: psycopg.Connection
) -> None:
    api = throttled_api(
        auth_settings, login_free_failures=3, login_delay_seconds=1, login_max_delay_seconds=4
    )
    try:
        email, _, _ = new_account(db)
        net = unique_network()
        # Addresses of one /24 are one network.
        for host in (5, 77, 200):
            assert login(api, email, "wrong", ip=f"{net}.{host}").status == 401
        waited = login(api, email, "wrong", ip=f"{net}.9")
        assert waited.status == 429
        assert waited.error["code"] == "too_many_attempts"
        assert waited.headers["retry-after"] == "1"
        # The right password from that network waits too (it cannot be told from a guess) ...
        assert login(api, email, ip=f"{net}.9").status == 429
        # ... but not from any other network.
        assert login(api, email, ip=f"{unique_network()}.1").status == 200

        time.sleep(1.1)
        assert login(api, email, "wrong", ip=f"{net}.9").status == 401
        assert login(api, email, "wrong", ip=f"{net}.9").headers["retry-after"] == "2"
        time.sleep(2.1)
        assert login(api, email, "wrong", ip=f"{net}.9").status == 401
        assert login(api, email, "wrong", ip=f"{net}.9").headers["retry-after"] == "4"
    finally:
        api.close()


def test_delays_double_with_each_failure_up_to_the_cap(auth_settings: Settings) -> None:
    limits = auth_settings.model_copy(
        update={"login_free_failures": 3, "login_delay_seconds": 1, "login_max_delay_seconds": 60}
    )
    assert [throttle.delay(limits, n, under_attack=False) for n in range(12)] == [
        0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60,
    ]  # fmt: skip
    # Under attack a network gets no free failure, and one that never failed no delay.
    assert [throttle.delay(limits, n, under_attack=True) for n in range(9)] == [
        0, 1, 2, 4, 8, 16, 32, 60, 60,
    ]  # fmt: skip
    assert throttle.delay(limits, 10_000, under_attack=True) == 60


def test_an_attacker_cannot_lock_the_owner_out(
    auth_settings: Settings, db: psycopg.Connection
) -> None:
    api = throttled_api(
        auth_settings,
        login_free_failures=3,
        login_account_failures=10,
        login_delay_seconds=30,
        login_network_failures=1000,
    )
    try:
        email, _, _ = new_account(db)
        attacker = unique_network()
        statuses = [login(api, email, "guess", ip=f"{attacker}.66").status for _ in range(30)]
        assert statuses[:3] == [401] * 3
        assert set(statuses[3:]) == {429}
        # The owner, from their own network, is not refused.
        owner = f"{unique_network()}.10"
        assert login(api, email, ip=owner).status == 200

        # Guesses from many networks put the account under attack: every network that has
        # failed against it waits after its first failure ...
        botnet = [f"{unique_network()}.7" for _ in range(10)]
        for address in botnet:
            assert login(api, email, "guess", ip=address).status == 401
        again = login(api, email, "guess", ip=botnet[0])
        assert again.status == 429
        # 30 s after its one failure (a few seconds of the other guesses have passed).
        assert 20 <= int(again.headers["retry-after"]) <= 30
        # ... while elsewhere one failure is still free (no attack on that account) ...
        other, _, _ = new_account(db)
        assert login(api, other, "typo", ip=botnet[0]).status == 401
        assert login(api, other, ip=botnet[0]).status == 200
        # ... and a network that never failed against the account is not slowed.
        assert login(api, email, ip=owner).status == 200
        assert login(api, email, ip=f"{unique_network()}.20").status == 200
    finally:
        api.close()


def test_spraying_from_one_network_slows_that_network(
    auth_settings: Settings, db: psycopg.Connection
) -> None:
    api = throttled_api(auth_settings, login_network_failures=5, login_window_seconds=60)
    try:
        email, _, _ = new_account(db)
        net = unique_network()
        for n in range(5):
            guessed = f"guess-{uuid.uuid4().hex[:6]}@example.com"
            assert login(api, guessed, "123456", ip=f"{net}.{n + 1}").status == 401
        sprayed = login(api, email, ip=f"{net}.99")
        assert sprayed.status == 429
        # One failure leaves the network's count every window / limit = 12 s.
        assert 1 <= int(sprayed.headers["retry-after"]) <= 12
        assert login(api, email, ip=f"{unique_network()}.1").status == 200
    finally:
        api.close()


def test_success_forgives_the_network_on_the_account_but_not_its_spraying(
    auth_settings: Settings, db: psycopg.Connection
) -> None:
    api = throttled_api(
        auth_settings, login_free_failures=3, login_network_failures=5, login_delay_seconds=30
    )
    try:
        email, _, _ = new_account(db)
        ip = f"{unique_network()}.3"
        for _ in range(2):
            assert login(api, email, "wrong", ip=ip).status == 401
        assert login(api, email, ip=ip).status == 200
        # The account and network start over: three free failures again ...
        for _ in range(3):
            assert login(api, email, "wrong", ip=ip).status == 401
        # ... but the network has failed 5 times within the window.
        assert login(api, email, ip=ip).status == 429
    finally:
        api.close()


def test_attempts_are_counted_before_the_password_is_checked(
    auth_settings: Settings, database_url: str
) -> None:
    limits = auth_settings.model_copy(update={"login_free_failures": 3})
    found = throttle.subjects(f"race-{uuid.uuid4().hex[:6]}@example.com", "192.0.2.44")

    def attempt(_: int) -> bool:
        with psycopg.connect(database_url, autocommit=True) as conn:
            try:
                throttle.begin(conn, limits, found)
            except throttle.Throttled:
                return False
            return True

    with ThreadPoolExecutor(8) as pool:
        admitted = list(pool.map(attempt, range(8)))
    assert admitted.count(True) == 3


def test_client_networks() -> None:
    assert throttle.client_network("203.0.113.77") == "203.0.113.0/24"
    assert throttle.client_network("::ffff:203.0.113.9") == "203.0.113.0/24"
    assert throttle.client_network("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert throttle.client_network("2001:DB8:1:2::FFFF") == "2001:db8:1:2::/64"
    assert throttle.client_network(None) == "unknown"
    assert throttle.client_network("not an address") == "unknown"


def test_throttling_is_audited(auth_settings: Settings, db: psycopg.Connection) -> None:
    api = throttled_api(auth_settings, login_free_failures=1, login_delay_seconds=30)
    try:
        email, user_id, _ = new_account(db)
        net = unique_network()
        assert login(api, email, "wrong", ip=f"{net}.1").status == 401
        for _ in range(3):
            assert login(api, email, "wrong", ip=f"{net}.2").status == 429
        failed = db.execute(
            "SELECT ip, details FROM audit_log WHERE action = 'auth.login_failed'"
            " AND actor_user_id = %s",
            (user_id,),
        ).fetchall()
        assert len(failed) == 1
        ip, details = failed[0]
        assert ip == f"{net}.1"
        assert details["network"] == f"{net}.0/24"
        assert details["failures"] == 1
        assert details["next_delay_seconds"] == 30
        # Refusals are recorded once per failure, not once per request.
        throttled = db.execute(
            "SELECT ip, details FROM audit_log WHERE action = 'auth.login_throttled'"
            " AND details->>'email' = %s",
            (email,),
        ).fetchall()
        assert len(throttled) == 1
        ip, details = throttled[0]
        assert ip == f"{net}.2"
        assert details["network"] == f"{net}.0/24"
        assert details["retry_after"] == 30
        assert details["reason"] == "account_network"
    finally:
        api.close()


def test_old_throttle_state_is_cleared_as_new_failures_come(
    auth_settings: Settings, db: psycopg.Connection
) -> None:
    stale = [f"pair:stale-{uuid.uuid4().hex[:6]}@example.com|198.18.0.0/24" for _ in range(5)]
    db.execute(
        "INSERT INTO login_throttle (subject, failures, updated_at)"
        " SELECT unnest(%s::text[]), 3, now() - interval '3 days'",
        (stale,),
    )
    email, _, _ = new_account(db)
    api = throttled_api(auth_settings)
    try:
        assert login(api, email, "wrong").status == 401
    finally:
        api.close()
    left = db.execute(
        "SELECT count(*) FROM login_throttle WHERE subject = ANY(%s)", (stale,)
    ).fetchone()
    assert left == (0,)


def test_disabled_users_get_401_everywhere(api: ApiCaller, db: psycopg.Connection) -> None:
    email, user_id, _ = new_account(db)
    session = login(api, email).body
    db.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (user_id,))
    assert call(api, "GET", "/api/users/me", token=session["access_token"]).status == 401
    assert (
        call(
            api, "POST", "/api/auth/refresh", json={"refresh_token": session["refresh_token"]}
        ).status
        == 401
    )
    assert login(api, email).status == 401


def builtin_claims(
    settings: Settings, user_id: UUID, session_id: UUID, **changes: Any
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "iss": settings.auth_issuer,
        "aud": settings.auth_issuer,
        "sub": str(user_id),
        "sid": str(session_id),
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        **changes,
    }


def test_forged_builtin_tokens(
    api: ApiCaller, db: psycopg.Connection, auth_settings: Settings
) -> None:
    email, user_id, _ = new_account(db)
    session = login(api, email).body
    sid = UUID(jwt.decode(session["access_token"], options={"verify_signature": False})["sid"])
    ring: KeyRing = api.app.state.services.builtin.keys
    current = ring.current()
    real = IdpKey(current.kid, "ES256", current.private_key)
    public_pem = current.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    good = builtin_claims(auth_settings, user_id, sid)
    assert call(api, "GET", "/api/users/me", token=real.sign(good)).status == 200

    past = datetime.now(UTC) - timedelta(hours=1)
    forged = {
        "alg none": unsigned(
            orjson.loads(orjson.dumps(good, default=lambda d: int(d.timestamp()))), current.kid
        ),
        "HS256 with the public key": hmac_with_public_key(
            orjson.loads(orjson.dumps(good, default=lambda d: int(d.timestamp()))),
            current.kid,
            public_pem,
        ),
        "our kid, another key": IdpKey(
            current.kid, "ES256", ec.generate_private_key(ec.SECP256R1())
        ).sign(good),
        "expired": real.sign(
            builtin_claims(
                auth_settings, user_id, sid, iat=past, nbf=past, exp=past + timedelta(minutes=5)
            )
        ),
        "wrong aud": real.sign(builtin_claims(auth_settings, user_id, sid, aud="someone-else")),
        "unknown session": real.sign(builtin_claims(auth_settings, user_id, uuid.uuid4())),
        "no session": real.sign({k: v for k, v in good.items() if k != "sid"}),
        "tampered sub": tampered(real.sign(good), sub=str(uuid.uuid4())),
        "unknown kid": IdpKey("not-ours", "ES256", current.private_key).sign(good),
    }
    for name, token in forged.items():
        reply = call(api, "GET", "/api/users/me", token=token)
        assert reply.status == 401, (name, reply.body)


def test_jwks_publishes_public_keys_only(api: ApiCaller, db: psycopg.Connection) -> None:
    email, _, _ = new_account(db)
    access = login(api, email).body["access_token"]
    reply = call(api, "GET", "/.well-known/jwks.json")
    assert reply.status == 200
    assert reply.headers["cache-control"].startswith("public, max-age=")
    [key] = reply.body["keys"]
    assert key["kid"] == jwt.get_unverified_header(access)["kid"]
    assert {"d", "private_key"}.isdisjoint(key)
    assert key["alg"] == "ES256" and key["use"] == "sig"
    # Anyone can verify our tokens with the published set.
    verified = jwt.decode(access, jwt.PyJWK(key), algorithms=["ES256"], audience="logsight")
    assert verified["iss"] == "logsight"


def test_without_builtin_auth(
    auth_settings: Settings, db: psycopg.Connection, api: ApiCaller
) -> None:
    email, _, _ = new_account(db)
    token = login(api, email).body["access_token"]
    off = ApiCaller(auth_settings.model_copy(update={"builtin_auth": False}))
    try:
        assert login(off, email).status == 404
        assert call(off, "GET", "/.well-known/jwks.json").status == 404
        assert call(off, "GET", "/api/users/me", token=token).status == 401
    finally:
        off.close()


def test_signing_key_is_kept_in_the_data_directory(
    api: ApiCaller, db: psycopg.Connection, auth_settings: Settings
) -> None:
    email, _, _ = new_account(db)
    token = login(api, email).body["access_token"]
    path = auth_settings.data_dir / "keys" / "signing-keys.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (auth_settings.data_dir / "keys").stat().st_mode & 0o777 == 0o700
    # Another environment (a restart) reads the same key and accepts the token.
    restarted = ApiCaller(auth_settings)
    try:
        assert call(restarted, "GET", "/api/users/me", token=token).status == 200
    finally:
        restarted.close()


def test_openapi_documents_the_auth_endpoints(api: ApiCaller) -> None:
    spec = call(api, "GET", "/api/openapi.json").body
    for path in (
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/users/me",
        "/api/users/me/password",
    ):
        assert path in spec["paths"], path
    assert "429" in spec["paths"]["/api/auth/login"]["post"]["responses"]
