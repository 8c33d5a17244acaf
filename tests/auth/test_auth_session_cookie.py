"""The dashboard's sessions: the refresh token in an httpOnly, SameSite=Strict cookie on
/api/auth, rotated on every refresh, and refused without the anti-forgery header."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import psycopg
import pytest

from logsight.config import Settings
from tests.auth.test_auth_builtin import PASSWORD, audit_actions, new_account
from tests.support.api import ApiCaller, Reply

HEADER = {"x-logsight-session": "1"}


@pytest.fixture
def api(settings: Settings, tmp_path: Path) -> Iterator[ApiCaller]:
    caller = ApiCaller(settings.model_copy(update={"data_dir": tmp_path}))
    yield caller
    caller.close()


def refresh_cookie(reply: Reply) -> SimpleCookie:
    (raw,) = reply.cookies
    cookie = SimpleCookie()
    cookie.load(raw)
    return cookie


def sign_in(api: ApiCaller, email: str) -> Reply:
    return api(
        "POST", "/api/auth/session", json={"email": email, "password": PASSWORD}, headers=HEADER
    )


def with_cookie(value: str, forgery_header: bool = True) -> dict[str, str]:
    return {"cookie": f"logsight_refresh={value}", **(HEADER if forgery_header else {})}


def test_sign_in_sets_a_cookie_scripts_cannot_read(api: ApiCaller, db: psycopg.Connection) -> None:
    email, _, _ = new_account(db)
    reply = sign_in(api, email)
    assert reply.status == 200, reply.body
    assert "refresh_token" not in reply.body
    assert reply.body["access_token"] and reply.body["password_change_required"] is False
    morsel = refresh_cookie(reply)["logsight_refresh"]
    assert morsel.value
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "strict"
    assert morsel["path"] == "/api/auth"
    assert int(morsel["max-age"]) == reply.body["refresh_expires_in"]
    assert morsel["secure"] is True
    # Plain http is the local runtime on loopback, whose gateway says so as API Gateway would.
    plain = api(
        "POST",
        "/api/auth/session",
        json={"email": email, "password": PASSWORD},
        headers={**HEADER, "x-forwarded-proto": "http"},
    )
    assert not refresh_cookie(plain)["logsight_refresh"]["secure"]
    me = api("GET", "/api/users/me", token=reply.body["access_token"])
    assert me.status == 200 and me.body["email"] == email


def test_refresh_rotates_the_cookie_and_detects_reuse(
    api: ApiCaller, db: psycopg.Connection
) -> None:
    email, user_id, _ = new_account(db)
    first = refresh_cookie(sign_in(api, email))["logsight_refresh"].value
    rotated = api("POST", "/api/auth/session/refresh", headers=with_cookie(first))
    assert rotated.status == 200, rotated.body
    second = refresh_cookie(rotated)["logsight_refresh"].value
    assert second != first
    assert api("GET", "/api/users/me", token=rotated.body["access_token"]).status == 200

    # The old cookie again (a stolen copy): the whole session ends.
    reused = api("POST", "/api/auth/session/refresh", headers=with_cookie(first))
    assert reused.status == 401 and reused.error["code"] == "refresh_token_reused"
    gone = api("POST", "/api/auth/session/refresh", headers=with_cookie(second))
    assert gone.status == 401
    assert "auth.refresh_reused" in audit_actions(db, user_id)


def test_cookie_endpoints_need_the_forgery_header(api: ApiCaller, db: psycopg.Connection) -> None:
    email, _, _ = new_account(db)
    cookie = refresh_cookie(sign_in(api, email))["logsight_refresh"].value
    for method, path, body in [
        ("POST", "/api/auth/session", {"email": email, "password": PASSWORD}),
        ("POST", "/api/auth/session/refresh", None),
        ("DELETE", "/api/auth/session", None),
    ]:
        reply = api(method, path, json=body, headers=with_cookie(cookie, forgery_header=False))
        assert reply.status == 403, (path, reply.body)
        assert reply.error == {
            "code": "csrf_header_missing",
            "message": "send the header X-LogSight-Session: 1",
            "field": "header.X-LogSight-Session",
        }
    # Nothing was used up by the refused requests.
    assert api("POST", "/api/auth/session/refresh", headers=with_cookie(cookie)).status == 200


def test_refresh_without_a_cookie_is_a_401(api: ApiCaller) -> None:
    reply = api("POST", "/api/auth/session/refresh", headers=HEADER)
    assert reply.status == 401
    assert reply.error["field"] == "cookie.logsight_refresh"


def test_sign_out_revokes_the_session_and_clears_the_cookie(
    api: ApiCaller, db: psycopg.Connection
) -> None:
    email, _, _ = new_account(db)
    signed_in = sign_in(api, email)
    cookie = refresh_cookie(signed_in)["logsight_refresh"].value
    out = api("DELETE", "/api/auth/session", headers=with_cookie(cookie))
    assert out.status == 204
    cleared = refresh_cookie(out)["logsight_refresh"]
    assert cleared.value == "" and cleared["path"] == "/api/auth" and cleared["max-age"] == "0"
    assert api("GET", "/api/users/me", token=signed_in.body["access_token"]).status == 401
    assert api("POST", "/api/auth/session/refresh", headers=with_cookie(cookie)).status == 401


def test_sign_in_options_say_what_the_login_page_offers(settings: Settings, tmp_path: Path) -> None:
    plain = ApiCaller(settings.model_copy(update={"data_dir": tmp_path}))
    oidc = ApiCaller(
        settings.model_copy(
            update={
                "data_dir": tmp_path,
                "builtin_auth": False,
                "oidc_issuer_url": "https://id.example.com/realms/x",
                "oidc_audience": "logsight",
                "oidc_client_id": "dashboard",
            }
        )
    )
    try:
        reply = plain("GET", "/api/auth/options")
        assert reply.status == 200
        assert reply.body == {"builtin": True, "oidc_issuer": None, "oidc_client_id": None}
        assert oidc("GET", "/api/auth/options").body == {
            "builtin": False,
            "oidc_issuer": "https://id.example.com/realms/x",
            "oidc_client_id": "dashboard",
        }
    finally:
        plain.close()
        oidc.close()
