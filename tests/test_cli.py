"""The `logsight` command: migrate, projects and keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import RUNTIME_ENV, create_database, drop_database


@pytest.fixture(scope="module")
def cli_database() -> Iterator[str]:
    url = create_database("logsight_cli")
    yield url
    drop_database(url)


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


def test_migrate_then_projects_and_keys(cli_database: str) -> None:
    first = logsight(cli_database, "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied 0001_tenancy.sql" in first.stdout
    assert logsight(cli_database, "migrate").stdout.strip() == "up to date"

    created = logsight(
        cli_database, "project", "create", "Web Shop", "--retention-days", "14", "--json"
    )
    assert created.returncode == 0, created.stderr
    project = json.loads(created.stdout)
    assert project["slug"] == "web-shop"
    assert project["key"].startswith("lsk_")

    second_key = logsight(
        cli_database,
        "key",
        "create",
        "web-shop",
        "--label",
        "browser",
        "--origin",
        "https://shop.example",
    )
    assert second_key.returncode == 0, second_key.stderr
    key = second_key.stdout.strip()

    listing = logsight(cli_database, "key", "list", project["id"]).stdout
    assert key in listing and "https://shop.example" in listing and project["key"] in listing

    assert logsight(cli_database, "key", "revoke", key).stdout.strip() == "revoked"
    again = logsight(cli_database, "key", "revoke", key)
    assert again.returncode == 1
    assert "revoked" in logsight(cli_database, "key", "list", "web-shop").stdout

    missing = logsight(cli_database, "key", "list", "no-such-project")
    assert missing.returncode != 0
    assert "no project" in missing.stderr


def test_project_create_prints_the_key(cli_database: str) -> None:
    logsight(cli_database, "migrate")
    result = logsight(cli_database, "project", "create", "api")
    assert result.returncode == 0, result.stderr
    assert "key     lsk_" in result.stdout


def test_sourcemaps_upload_needs_a_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    from logsight.cli import main

    monkeypatch.delenv("LOGSIGHT_API_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="LOGSIGHT_API_TOKEN"):
        main(["sourcemaps", "upload", str(tmp_path), "--release", "1", "--project", "p"])
