"""Faults under load through `logsight local`: every event acknowledged with a 202 is stored
exactly once, whatever dies on the way, and nothing but 202 or 503 is ever answered.

The processor and the gateway are killed on the shared services (with a vhost and a database of
the test's own); the broker and the database are stopped and killed on private servers of the
test's own, never the machine's.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from logsight.local.embedded_postgres import EmbeddedPostgres
from logsight.storage.keys import create_key
from tests.conftest import (
    RUNTIME_ENV,
    create_database,
    create_vhost,
    delete_vhost,
    drop_database,
    list_queues,
)
from tests.support.load import CONNECTION_ERROR, Load, LoadReport, wait_until_stored
from tests.support.private_rabbitmq import PrivateRabbitMQ
from tests.support.runtime import LocalLogSight, private_postgres

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

# Requests acknowledged before the fault is injected, and again after recovery.
BEFORE_FAULT = 150
AFTER_RECOVERY = 150


@pytest.fixture
def vhost() -> Iterator[str]:
    url = create_vhost("logsight-faults")
    yield url
    delete_vhost(url)


@pytest.fixture
def database() -> Iterator[str]:
    url = create_database("logsight_faults")
    yield url
    drop_database(url)


@pytest.fixture
def rabbit() -> Iterator[PrivateRabbitMQ]:
    node = PrivateRabbitMQ()
    try:
        node.start()
        yield node
    finally:
        node.cleanup()


@pytest.fixture
def postgres() -> Iterator[EmbeddedPostgres]:
    with private_postgres("logsight-faults-pg-") as server:
        yield server


def check_delivery(
    local: LocalLogSight, load: Load, report: LoadReport, *, redriven: bool = False
) -> float:
    """Every 202 stored once, no other row doubled, counters not doubled; returns seconds waited.

    ``redriven``: the fault outlasted the delivery limit, so messages were dead-lettered; each
    must have been sent back on its own, with nobody running a command."""
    acknowledged = report.acknowledged
    assert acknowledged, report.statuses
    result, waited = wait_until_stored(
        local.resolved_database_url, local.project_id, load.name, acknowledged, redriven=redriven
    )
    if redriven:
        assert result.dead_letters > 0, "the outage did not outlast the delivery limit"
        assert result.dead_letters_waiting == 0, f"{result.dead_letters_waiting} left behind"
    else:
        # A fault is no excuse to give up on a message: none may end up a dead letter.
        assert result.dead_letters == 0, f"{result.dead_letters} messages dead-lettered"
    assert not result.missing, (
        f"{len(result.missing)} of {len(acknowledged)} acknowledged events never stored"
        f"\n{local.log()}"
    )
    assert result.duplicated_event_ids == []
    # Requests answered 503 may still have been queued; either way nothing is stored twice,
    # and the counters derived from inserted rows are not doubled by redeliveries either.
    assert result.rows == result.distinct_event_ids == result.distinct_seqs
    if result.rolled_up is not None:
        assert result.rolled_up == result.rows
    # Every failure on the way was one the components expected and handled.
    log = local.log_path.read_text(errors="replace")
    assert "Traceback" not in log, local.log()
    return waited


def check_statuses(report: LoadReport, *, allowed: set[int | str]) -> None:
    unexpected = {status: n for status, n in report.statuses.items() if status not in allowed}
    assert not unexpected, f"unexpected answers {unexpected}; all: {report.statuses}"
    for outcome in report.outcomes:
        if outcome.status == 503:
            assert outcome.retry_after is not None and int(outcome.retry_after) > 0


def summary(title: str, report: LoadReport, **measures: float | int | str) -> None:
    details = ", ".join(
        f"{k}={v:.1f}s" if isinstance(v, float) else f"{k}={v}" for k, v in measures.items()
    )
    print(
        f"\n[{title}] requests={len(report.outcomes)} statuses={dict(report.statuses)}"
        f" events_acknowledged={len(report.acknowledged)} {details}"
    )


def test_processor_killed_mid_stream(vhost: str, database: str) -> None:
    began = time.monotonic()
    with LocalLogSight(amqp_url=vhost, database_url=database, env=RUNTIME_ENV) as local:
        load = Load(local.url, local.key).start()
        try:
            load.wait_for_accepted(BEFORE_FAULT)
            old_pid = local.pid_of("processor")
            os.kill(old_pid, signal.SIGKILL)
            killed = time.monotonic()
            new_pid = local.wait_for_restart("processor", old_pid)
            restarted = time.monotonic() - killed
            load.wait_for_accepted(load.accepted_requests + AFTER_RECOVERY)
        finally:
            report = load.stop()
        assert new_pid != old_pid
        # Ingest never depended on the processor.
        check_statuses(report, allowed={202})
        waited = check_delivery(local, load, report)
        assert "processor exited with -9" in local.log()
    summary(
        "processor kill -9",
        report,
        restart=restarted,
        stored_after_load=waited,
        wall=time.monotonic() - began,
    )


def test_gateway_killed_mid_stream(vhost: str, database: str) -> None:
    began = time.monotonic()
    with LocalLogSight(amqp_url=vhost, database_url=database, env=RUNTIME_ENV) as local:
        load = Load(local.url, local.key).start()
        try:
            load.wait_for_accepted(BEFORE_FAULT)
            old_pid = local.pid_of("gateway")
            os.kill(old_pid, signal.SIGKILL)
            killed = time.monotonic()
            local.wait_for_restart("gateway", old_pid)
            back_at = load.wait_for_accepted(load.accepted_requests + AFTER_RECOVERY)
        finally:
            report = load.stop()
        # Requests in flight when it died, or sent before the new one listened, get no answer
        # at all; the clients cannot tell whether those were queued, but nothing else is lost.
        check_statuses(report, allowed={202, CONNECTION_ERROR})
        waited = check_delivery(local, load, report)
        first_ok = report.first_accepted_after(killed)
        assert first_ok is not None
    summary(
        "gateway kill -9",
        report,
        first_202_after_kill=first_ok - killed,
        load_done_after_kill=back_at - killed,
        stored_after_load=waited,
        wall=time.monotonic() - began,
    )


def processes_of(local: LocalLogSight) -> list[int]:
    """Live processes started for this runtime (they all carry its data directory)."""
    marker = f"LOGSIGHT_DATA_DIR={local.data_dir}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ and state != "Z":
            pids.append(int(entry.name))
    return pids


def test_a_gateway_that_cannot_start_leaves_no_component_running(vhost: str, database: str) -> None:
    local = LocalLogSight(amqp_url=vhost, database_url=database, env=RUNTIME_ENV)
    try:
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", local.port))
            squatter.listen()
            with pytest.raises(RuntimeError, match="logsight local exited"):
                local.start()
        assert local.process is not None
        assert local.process.returncode != 0
        assert f"is port {local.port} free?" in local.log()
        # The processor and the scheduler were already running: they must not outlive it.
        deadline = time.monotonic() + 20
        while (left := processes_of(local)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == [], f"left running: {left}\n{local.log()}"
    finally:
        for pid in processes_of(local):
            os.kill(pid, signal.SIGKILL)
        local.cleanup()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_broker_down_and_back(how: str, rabbit: PrivateRabbitMQ, database: str) -> None:
    began = time.monotonic()
    with LocalLogSight(amqp_url=rabbit.url, database_url=database, env=RUNTIME_ENV) as local:
        load = Load(local.url, local.key).start()
        try:
            load.wait_for_accepted(BEFORE_FAULT)
            rabbit.stop() if how == "stop" else rabbit.kill()
            down = time.monotonic()
            time.sleep(3)  # under load, with no broker at all
            starting = time.monotonic()
            rabbit.start()
            up = time.monotonic()
            # The publishers reconnect on their own: no restart of anything.
            recovered_at = load.wait_for_accepted(load.accepted_requests + AFTER_RECOVERY)
        finally:
            report = load.stop()

        while_down = report.between(down, starting)
        assert while_down, "no request was answered while the broker was down"
        assert {o.status for o in while_down} == {503}, report.statuses
        check_statuses(report, allowed={202, 503})
        first_ok = report.first_accepted_after(starting)
        assert first_ok is not None
        waited = check_delivery(local, load, report)
    summary(
        f"broker {how}",
        report,
        answered_while_down=len(while_down),
        broker_boot=up - starting,
        first_202_after_boot_began=first_ok - starting,
        load_done_after_boot=recovered_at - up,
        stored_after_load=waited,
        wall=time.monotonic() - began,
    )


def probe(local: LocalLogSight, key: str) -> tuple[int, str | None]:
    with local.client() as client:
        response = client.post(
            "/v1/events", json={"name": "probe"}, headers={"x-logsight-key": key}
        )
    return response.status_code, response.headers.get("retry-after")


def test_database_killed_and_restarted(vhost: str, postgres: EmbeddedPostgres) -> None:
    began = time.monotonic()
    with LocalLogSight(amqp_url=vhost, database_url=postgres.url) as local:
        # The load's key stays cached through the outage, so events keep coming in and the
        # processor keeps failing on them; a second key, never used before, has to be looked
        # up in the database that is down.
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            fresh_key = create_key(conn, UUID(local.project_id), label="probe")
        load = Load(local.url, local.key).start()
        try:
            load.wait_for_accepted(BEFORE_FAULT)
            postgres.kill()
            down = time.monotonic()
            # Several failed batches long (with the restart's crash recovery, about 8 s): the
            # poller has to back off rather than spend the messages' whole delivery limit.
            probes = []
            for _ in range(5):
                probes.append(probe(local, fresh_key))
                time.sleep(1)
            starting = time.monotonic()
            postgres.start()
            up = time.monotonic()
            load.wait_for_accepted(load.accepted_requests + AFTER_RECOVERY)
        finally:
            report = load.stop()
        # An unknown key cannot be checked without the database: 503, never a guess.
        assert all(status == 503 and retry for status, retry in probes), probes
        # The same key works once the database is back: ingest reconnected by itself.
        deadline = time.monotonic() + 30
        while (status := probe(local, fresh_key)[0]) != 202 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert status == 202
        # A cached key may still expire during the outage; that too is answered 503.
        check_statuses(report, allowed={202, 503})
        while_down = report.between(down, starting)
        assert while_down
        waited = check_delivery(local, load, report)
    summary(
        "postgres kill -9",
        report,
        accepted_while_down=sum(o.status == 202 for o in while_down),
        outage=up - down,
        stored_after_load=waited,
        wall=time.monotonic() - began,
    )


def postmaster_pid(local: LocalLogSight) -> int:
    pid_file = local.data_dir / "postgres" / "pgdata" / "postmaster.pid"
    return int(pid_file.read_text().split()[0])


def test_embedded_database_killed_and_brought_back_by_the_runtime(vhost: str) -> None:
    """No LOGSIGHT_DATABASE_URL: the runtime runs PostgreSQL, and supervises it."""
    began = time.monotonic()
    with LocalLogSight(amqp_url=vhost) as local:
        load = Load(local.url, local.key).start()
        try:
            load.wait_for_accepted(BEFORE_FAULT)
            old_pid = postmaster_pid(local)
            os.kill(old_pid, signal.SIGKILL)
            killed = time.monotonic()
            new_pid = local.wait_for_restart("postgres", old_pid)
            restarted = time.monotonic() - killed
            load.wait_for_accepted(load.accepted_requests + AFTER_RECOVERY)
        finally:
            report = load.stop()
        assert new_pid == postmaster_pid(local) != old_pid
        check_statuses(report, allowed={202, 503})
        waited = check_delivery(local, load, report)
        assert "postgres exited with -9; restarting in 0s" in local.log()
    summary(
        "embedded postgres kill -9",
        report,
        restart=restarted,
        stored_after_load=waited,
        wall=time.monotonic() - began,
    )


def dead_letter_queue_depth(amqp_url: str) -> int:
    depths = list_queues(amqp_url, "messages")
    return int(depths.get("logsight.events.dead", ["0"])[0])


def test_database_down_longer_than_the_delivery_limit(
    vhost: str, postgres: EmbeddedPostgres
) -> None:
    """Messages run out of deliveries during the outage; once the database is back they are
    recorded as dead letters and sent back automatically, stored once, nobody lifting a finger.
    Small settings keep it short: two deliveries, one second of retrying per invocation."""
    began = time.monotonic()
    env = {
        "LOGSIGHT_DELIVERY_LIMIT": "1",
        "LOGSIGHT_PROCESSOR_RETRY_SECONDS": "1",
        "LOGSIGHT_ALERTS_INTERVAL_SECONDS": "1",
        "LOGSIGHT_REDRIVE_BACKOFF_SECONDS": "1",
    }
    with LocalLogSight(amqp_url=vhost, database_url=postgres.url, env=env) as local:
        load = Load(local.url, local.key).start()
        try:
            load.wait_for_accepted(BEFORE_FAULT)
            postgres.stop()
            down = time.monotonic()
            deadline = down + 60
            while dead_letter_queue_depth(vhost) == 0:
                assert time.monotonic() < deadline, f"nothing dead-lettered\n{local.log()}"
                time.sleep(1)
            postgres.start()
            up = time.monotonic()
            load.wait_for_accepted(load.accepted_requests + AFTER_RECOVERY)
        finally:
            report = load.stop()
        check_statuses(report, allowed={202, 503})
        waited = check_delivery(local, load, report, redriven=True)
    summary(
        "postgres down past the delivery limit",
        report,
        outage=up - down,
        stored_after_load=waited,
        wall=time.monotonic() - began,
    )
