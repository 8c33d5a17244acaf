"""The real sentry-cli (`sourcemaps inject` + `sourcemaps upload`, from npm) pointed at
`logsight local` with a LogSight API token; an error event from the injected bundle then shows
the original file, line and function through the API."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from logsight.storage.artifacts import comment_debug_id
from tests.conftest import private_local_runtime
from tests.support.api import Member, make_member
from tests.support.runtime import LocalLogSight

pytestmark = pytest.mark.slow
CLI = Path(__file__).resolve().parents[1] / "clients" / "sentry-cli" / "node_modules" / ".bin"
DIST = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps" / "dist"


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalLogSight]:
    with private_local_runtime("logsight_sentry_cli") as local:
        yield local


def slugs(runtime: LocalLogSight) -> tuple[str, str, int, uuid.UUID]:
    with psycopg.connect(runtime.resolved_database_url) as conn:
        row = conn.execute(
            "SELECT o.slug, p.slug, p.number, o.id FROM projects p"
            " JOIN organizations o ON o.id = p.organization_id WHERE p.id = %s",
            (runtime.project_id,),
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


def member(runtime: LocalLogSight, role: str, scope: str = "write") -> Member:
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        return make_member(conn, slugs(runtime)[3], role, scope=scope)


def sentry_cli(runtime: LocalLogSight, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    org, project, _, _ = slugs(runtime)
    env = {
        **os.environ,
        "SENTRY_URL": f"http://127.0.0.1:{runtime.port}",
        "SENTRY_ORG": org,
        "SENTRY_PROJECT": project,
        "SENTRY_AUTH_TOKEN": token,
        "SENTRY_LOG_LEVEL": "info",
    }
    return subprocess.run(
        [str(CLI / "sentry-cli"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stored_artifacts(runtime: LocalLogSight) -> int:
    with psycopg.connect(runtime.resolved_database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM artifacts WHERE project_id = %s", (runtime.project_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def wait_for_event(runtime: LocalLogSight, token: str, event_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    with runtime.client() as client:
        while True:
            reply = client.get(
                f"/api/projects/{runtime.project_id}/events/{event_id}",
                headers={"authorization": f"Bearer {token}"},
            )
            if reply.status_code == 200:
                found: dict[str, Any] = reply.json()
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no event {event_id}:\n{runtime.log()}")
            time.sleep(0.3)


def test_sentry_cli_uploads_and_a_minified_stack_resolves(
    runtime: LocalLogSight, tmp_path: Path
) -> None:
    build = tmp_path / "dist"
    shutil.copytree(DIST, build)
    writer = member(runtime, "member")

    read_only = member(runtime, "owner", scope="read")
    refused = sentry_cli(runtime, read_only.token, "sourcemaps", "upload", str(build))
    assert refused.returncode != 0
    assert stored_artifacts(runtime) == 0

    injected = sentry_cli(runtime, writer.token, "sourcemaps", "inject", str(build))
    assert injected.returncode == 0, injected.stderr
    uploaded = sentry_cli(runtime, writer.token, "sourcemaps", "upload", str(build))
    assert uploaded.returncode == 0, uploaded.stderr + runtime.log()
    assert stored_artifacts(runtime) == 2

    bundle = (build / "app.min.js").read_bytes()
    debug_id = comment_debug_id(bundle)
    assert debug_id is not None
    # inject put its snippet on a line of its own before the bundle: find the throw again.
    lines = bundle.split(b"\n")
    line = next(i for i, text in enumerate(lines) if b"new TypeError" in text)
    served = f"http://127.0.0.1:{runtime.port}/assets/app.min.js"
    event_id = uuid.uuid4().hex
    _, _, number, _ = slugs(runtime)
    sent = httpx.post(
        f"http://127.0.0.1:{runtime.port}/api/{number}/store/",
        headers={"x-sentry-auth": f"Sentry sentry_version=7, sentry_key={runtime.key}"},
        json={
            "event_id": event_id,
            "platform": "javascript",
            "exception": {
                "values": [
                    {
                        "type": "TypeError",
                        "value": "unknown discount code WINTER",
                        "stacktrace": {
                            "frames": [
                                {
                                    "abs_path": served,
                                    "filename": served,
                                    "function": "r",
                                    "lineno": line + 1,
                                    "colno": lines[line].index(b"new TypeError") + 1,
                                }
                            ]
                        },
                    }
                ]
            },
            "debug_meta": {
                "images": [{"type": "sourcemap", "code_file": served, "debug_id": str(debug_id)}]
            },
        },
        timeout=10,
    )
    assert sent.status_code == 200, sent.text

    event = wait_for_event(runtime, writer.token, str(uuid.UUID(event_id)))
    frame = event["error"]["stacktrace"]["frames"][-1]
    assert frame["sourcemap"] == {"status": "resolved"}, frame
    assert (frame["filename"], frame["lineno"], frame["function"]) == (
        "src/checkout.js",
        5,
        "applyDiscount",
    )
    assert frame["raw"]["abs_path"] == served
