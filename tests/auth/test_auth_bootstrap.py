"""The first administrator on first start, and ``logsight user create``."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from logsight.auth.bootstrap import FIRST_ADMIN_EMAIL, ensure_first_admin
from logsight.config import Settings
from tests.conftest import RUNTIME_ENV, migrated_database
from tests.support.api import ApiCaller


@pytest.fixture
def fresh_database() -> Iterator[str]:
    with migrated_database("logsight_auth_boot") as url:
        yield url


def login(api: ApiCaller, email: str, password: str) -> int:
    return api("POST", "/api/auth/login", json={"email": email, "password": password}).status


def test_first_admin_is_created_once(fresh_database: str, tmp_path: Path) -> None:
    settings = Settings(database_url=fresh_database, data_dir=tmp_path)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        created = ensure_first_admin(conn, settings)
        assert created is not None
        email, password = created
        assert email == FIRST_ADMIN_EMAIL
        assert len(password) >= 20
        # Second start: nothing to print.
        assert ensure_first_admin(conn, settings) is None
        row = conn.execute(
            "SELECT o.slug, m.role FROM memberships m JOIN organizations o"
            " ON o.id = m.organization_id JOIN users u ON u.id = m.user_id WHERE u.email = %s",
            (email,),
        ).fetchall()
        assert row == [("default", "owner")]
    api = ApiCaller(settings)
    try:
        reply = api("POST", "/api/auth/login", json={"email": email, "password": password})
        assert reply.status == 200, reply.body
        # The printed password must be replaced at the first sign-in.
        assert reply.body["password_change_required"] is True
        token = reply.body["access_token"]
        me = api("GET", "/api/users/me", token=token)
        assert [(o["slug"], o["role"]) for o in me.body["organizations"]] == [("default", "owner")]
        assert me.body["password_change_required"] is True
        new = "a brand new admin passphrase"
        changed = api(
            "POST",
            "/api/users/me/password",
            token=token,
            json={"current_password": password, "new_password": new},
        )
        assert changed.status == 200, changed.body
        assert changed.body["password_change_required"] is False
        me = api("GET", "/api/users/me", token=changed.body["access_token"])
        assert me.body["password_change_required"] is False
        again = api("POST", "/api/auth/login", json={"email": email, "password": new})
        assert again.body["password_change_required"] is False
    finally:
        api.close()


def test_no_first_admin_when_an_account_exists_or_builtin_is_off(fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        assert ensure_first_admin(conn, Settings(builtin_auth=False)) is None
        conn.execute("INSERT INTO users (email, password_hash) VALUES ('x@example.com', 'h')")
        assert ensure_first_admin(conn, Settings()) is None
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)


def logsight(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGSIGHT_")}
    env["LOGSIGHT_DATABASE_URL"] = database_url
    env.update(RUNTIME_ENV)
    return subprocess.run(
        [sys.executable, "-m", "logsight.cli", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def printed_password(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith("password ")]
    return line.split()[1]


def test_cli_user_create(database_url: str, settings: Settings, tmp_path: Path) -> None:
    admin = f"ops-{uuid.uuid4().hex[:8]}@example.com"
    slug = f"org-{uuid.uuid4().hex[:8]}"
    made = logsight(database_url, "user", "create", "--admin", admin, "--organization", slug)
    assert made.returncode == 0, made.stderr
    assert f"owner of {slug}" in made.stdout
    admin_password = printed_password(made.stdout)

    plain = f"dev-{uuid.uuid4().hex[:8]}@example.com"
    made_plain = logsight(database_url, "user", "create", plain)
    assert made_plain.returncode == 0, made_plain.stderr
    assert "role" not in made_plain.stdout
    plain_password = printed_password(made_plain.stdout)

    again = logsight(database_url, "user", "create", admin.upper())
    assert again.returncode == 1
    assert "exists" in again.stderr
    assert logsight(database_url, "user", "create", "not-an-email").returncode == 2

    # Other tests log in from ApiCaller's one address too: no network limit here.
    api = ApiCaller(
        settings.model_copy(update={"data_dir": tmp_path, "login_network_failures": 10_000})
    )
    try:
        session = api("POST", "/api/auth/login", json={"email": admin, "password": admin_password})
        assert session.status == 200
        me = api("GET", "/api/users/me", token=session.body["access_token"]).body
        assert [(o["slug"], o["role"]) for o in me["organizations"]] == [(slug, "owner")]
        plain_session = api(
            "POST", "/api/auth/login", json={"email": plain, "password": plain_password}
        )
        assert plain_session.status == 200
        plain_me = api("GET", "/api/users/me", token=plain_session.body["access_token"]).body
        assert plain_me["organizations"] == []
    finally:
        api.close()
