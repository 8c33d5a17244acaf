"""The API with its database down: 503 with Retry-After in seconds, never a hang until the
function's timeout, and back to normal on its own once the database is.

Through Mangum, as on Lambda, against a private PostgreSQL cluster that is stopped and started.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from logsight.config import Settings
from logsight.local.embedded_postgres import EmbeddedPostgres
from logsight.storage.migrate import migrate
from tests.support.api import ApiCaller, Reply
from tests.support.runtime import private_postgres
from tests.support.tenancy import Tenant, make_tenant

pytestmark = pytest.mark.slow

# Well inside API Gateway's 30 s and the function's 29 s.
FAIL_FAST_SECONDS = 10


@pytest.fixture(scope="module")
def private_pg() -> Iterator[EmbeddedPostgres]:
    with private_postgres("logsight-api-pg-") as server:
        migrate(server.url, timescale="off")
        yield server


@pytest.fixture(scope="module")
def tenant(private_pg: EmbeddedPostgres) -> Tenant:
    with psycopg.connect(private_pg.url, autocommit=True) as conn:
        return make_tenant(conn, private_pg.url)


def timed(api: ApiCaller, tenant: Tenant) -> tuple[Reply, float]:
    began = time.monotonic()
    reply = api("GET", f"/api/projects/{tenant.project_id}", token=tenant.members["admin"].token)
    return reply, time.monotonic() - began


def assert_unavailable(reply: Reply, took: float) -> None:
    assert reply.status == 503, reply.body
    assert reply.error["code"] == "database_unavailable"
    assert int(reply.headers["retry-after"]) > 0
    assert took < FAIL_FAST_SECONDS


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_warm_api_answers_503_quickly_and_recovers(
    how: str, private_pg: EmbeddedPostgres, tenant: Tenant
) -> None:
    api = ApiCaller(Settings(database_url=private_pg.url))
    try:
        assert timed(api, tenant)[0].status == 200  # pooled connections made
        private_pg.stop() if how == "stop" else private_pg.kill()
        try:
            for _ in range(2):  # the broken pooled connection, then no connection at all
                assert_unavailable(*timed(api, tenant))
        finally:
            private_pg.start()
        assert timed(api, tenant)[0].status == 200
    finally:
        api.close()


def test_a_cold_api_answers_503_quickly(private_pg: EmbeddedPostgres, tenant: Tenant) -> None:
    private_pg.stop()
    try:
        api = ApiCaller(Settings(database_url=private_pg.url))
        try:
            assert_unavailable(*timed(api, tenant))
        finally:
            api.close()
    finally:
        private_pg.start()
