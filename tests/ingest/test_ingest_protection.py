"""Ingest protecting itself, end to end: a revocation or a project deletion stops ingest within
LOGSIGHT_KEY_CACHE_SECONDS (the real runtime and its real key cache); the official Sentry SDK
pauses what a quota refuses and says so in its client reports; and a key in use keeps working
through a database outage (a private PostgreSQL that is killed), quotas failing open."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import amqp
import httpx
import psycopg
import pytest
import sentry_sdk
from psycopg.rows import dict_row

from logsight.apigw import HttpRequest
from logsight.config import Settings
from logsight.ingest.app import build_ingest_service
from logsight.ingest.service import IngestService
from logsight.local.embedded_postgres import EmbeddedPostgres
from logsight.storage.keys import create_key
from logsight.storage.migrate import migrate
from logsight.storage.projects import create_project
from logsight.tenancy.quotas import set_project_quotas
from tests.conftest import purge
from tests.support.api import make_member
from tests.support.ingest import api_request
from tests.support.runtime import LocalLogSight, fresh_runtime, private_postgres

pytestmark = pytest.mark.slow

# The documented bound (LOGSIGHT_KEY_CACHE_SECONDS by default), plus room for a busy machine.
KEY_CACHE_SECONDS = 5.0
SLACK_SECONDS = 2.0


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalLogSight]:
    with fresh_runtime("logsight_protection") as local:
        yield local


def ingest(client: httpx.Client, key: str) -> int:
    return client.post(
        "/v1/events", json={"name": "ping"}, headers={"x-logsight-key": key}
    ).status_code


def refused_after(client: httpx.Client, key: str, since: float) -> float:
    """Seconds from ``since`` until ingest refuses ``key`` (401); fails past the bound."""
    deadline = since + KEY_CACHE_SECONDS + SLACK_SECONDS
    while (status := ingest(client, key)) == 202:
        assert time.monotonic() < deadline, "the key is still accepted past the bound"
        time.sleep(0.1)
    assert status == 401
    return time.monotonic() - since


def test_a_revoked_key_and_a_deleted_projects_key_stop_within_the_bound(
    runtime: LocalLogSight,
) -> None:
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        org = conn.execute(
            "SELECT organization_id FROM projects WHERE id = %s", (runtime.project_id,)
        ).fetchone()
        assert org is not None
        admin = make_member(conn, org[0], "admin")
        key_id = conn.execute(
            "SELECT id FROM ingest_keys WHERE public_key = %s", (runtime.key,)
        ).fetchone()
        assert key_id is not None
    auth = {"authorization": f"Bearer {admin.token}"}
    with runtime.client() as client:
        # Used just before: the key sits in ingest's cache.
        assert ingest(client, runtime.key) == 202
        revoked = client.post(
            f"/api/projects/{runtime.project_id}/keys/{key_id[0]}/revoke", headers=auth
        )
        assert revoked.status_code == 200, revoked.text
        refused_after(client, runtime.key, time.monotonic())

        created = client.post(
            "/api/projects", headers=auth, json={"organization_id": str(org[0]), "name": "gone"}
        )
        assert created.status_code == 201, created.text
        key = created.json()["ingest_key"]
        assert ingest(client, key) == 202
        deleted = client.delete(f"/api/projects/{created.json()['id']}", headers=auth)
        assert deleted.status_code == 204
        refused_after(client, key, time.monotonic())


def test_one_key_cannot_flood_ingest_with_the_default_limits(runtime: LocalLogSight) -> None:
    # Seen: 23,000 events from one key in seconds, every one accepted.
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        key = create_project(conn, "flooded").public_key
    batch = {"events": [{"name": f"flood {n}"} for n in range(100)]}
    statuses: list[int] = []

    def flood(client: httpx.Client) -> None:
        for _ in range(60):
            reply = client.post("/v1/events", json=batch, headers={"x-logsight-key": key})
            statuses.append(reply.status_code)

    began = time.time()
    with runtime.client() as client:
        threads = [threading.Thread(target=flood, args=(client,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    seconds = int(time.time()) - int(began) + 1  # one-second windows the flood touched
    assert set(statuses) <= {202, 429}
    accepted = 100 * statuses.count(202)
    assert statuses.count(429) > 0
    assert accepted <= Settings().key_events_per_second * seconds, (accepted, seconds)


def wait_for_row(runtime: LocalLogSight, sql: str, *params: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        while True:
            with conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(sql, params).fetchone()  # type: ignore[arg-type]
            if row is not None:
                return row
            assert time.monotonic() < deadline, f"nothing for {sql} {params}:\n{runtime.log()}"
            time.sleep(0.2)


def test_sentry_python_pauses_what_a_quota_refuses(runtime: LocalLogSight) -> None:
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        project = create_project(conn, "sdk under quota")
        set_project_quotas(conn, project.id, {"events_per_minute": 1, "key_events_per_second": 0})
        number = conn.execute("SELECT number FROM projects WHERE id = %s", (project.id,)).fetchone()
    assert number is not None
    # The first two events must fall in one minute.
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    sentry_sdk.init(
        dsn=f"http://{project.public_key}@127.0.0.1:{runtime.port}/{number[0]}",
        default_integrations=False,
    )
    try:
        client = sentry_sdk.get_client()
        for text in ("first", "second (refused: 429)", "third (dropped by the SDK)"):
            sentry_sdk.capture_message(text, level="error")
            client.flush(timeout=10)
    finally:
        sentry_sdk.get_client().close(timeout=10)
    stored = wait_for_row(runtime, "SELECT message FROM events WHERE project_id = %s", project.id)
    assert stored["message"] == "first"
    # The SDK did not send the third event: X-Sentry-Rate-Limits paused the "error" category,
    # and its client report (category "internal", not paused) says why.
    backoff = wait_for_row(
        runtime,
        "SELECT quantity FROM ingest_outcomes WHERE project_id = %s"
        " AND outcome = 'client_discarded' AND category = 'error' AND reason = 'ratelimit_backoff'",
        project.id,
    )
    assert backoff["quantity"] == 1
    # Ingest's own count of the refused one goes out with a request a second or more later.
    time.sleep(1.1)
    with runtime.client() as http:
        assert ingest(http, project.public_key) == 429
    refused = wait_for_row(
        runtime,
        "SELECT quantity FROM ingest_outcomes WHERE project_id = %s"
        " AND outcome = 'rate_limited' AND category = 'error' AND reason = 'events_per_minute'",
        project.id,
    )
    assert refused["quantity"] == 1
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        count = conn.execute(
            "SELECT count(*) FROM events WHERE project_id = %s", (project.id,)
        ).fetchone()
    assert count == (1,)


# -- a database outage ---------------------------------------------------------------------------


@pytest.fixture
def postgres() -> Iterator[EmbeddedPostgres]:
    with private_postgres("logsight-protection-pg-") as server:
        yield server


def post(service: IngestService, key: str, events: int = 1) -> int:
    body = {"events": [{"name": f"e{n}"} for n in range(events)]}
    return service.handle(HttpRequest.from_event(api_request(body, key=key))).status


def test_a_key_in_use_rides_out_a_database_outage(
    postgres: EmbeddedPostgres, amqp_url: str, broker: amqp.Channel
) -> None:
    migrate(postgres.url, timescale="off")
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        project = create_project(conn, "outage")
        never_used = create_key(conn, project.id, label="never used")
        set_project_quotas(
            conn,
            project.id,
            {"events_per_minute": 10, "events_per_month": 0, "key_events_per_second": 0},
        )
    settings = Settings(
        database_url=postgres.url,
        amqp_url=amqp_url,
        key_cache_seconds=0.2,
        key_stale_seconds=60,
        connect_timeout_seconds=1,
    )
    purge(broker, settings)
    service = build_ingest_service(settings)
    assert post(service, project.public_key, 5) == 202  # half the minute's quota
    postgres.kill()
    time.sleep(0.5)  # past the key cache time: the key has to be looked up again, and cannot
    # Still accepted and queued: the key from before the outage, and the quota failing open
    # (20 events in all, over the limit of 10, rather than refusing for want of the counter).
    assert [post(service, project.public_key, 5) for _ in range(3)] == [202, 202, 202]
    # A key never looked up cannot be checked: 503, never a guess.
    assert post(service, never_used) == 503
    postgres.start()
    deadline = time.monotonic() + 30
    # Looked up once the database answers (the minute's quota may still be used up: 429).
    while post(service, never_used) not in (202, 429):
        assert time.monotonic() < deadline, "ingest did not reconnect"
        time.sleep(0.5)
    purge(broker, settings)
