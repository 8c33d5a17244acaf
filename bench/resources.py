"""The bench's own PostgreSQL database and RabbitMQ vhost, created per run and always removed.

Only objects named ``logsight_bench_<random>`` / ``logsight-bench-<random>`` are ever created or
dropped; shared services are never stopped or reconfigured.
"""

from __future__ import annotations

import subprocess
import uuid
from types import TracebackType

import psycopg

from bench.common import AMQP_BASE, PG_ADMIN_URL, PG_HOST, PG_PORT, log


class BenchDatabase:
    def __init__(self, prefix: str = "logsight_bench") -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.url = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{self.name}"
        self._created = False

    def create(self) -> BenchDatabase:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self._created = True
        log(f"created database {self.name}")
        return self

    def drop(self) -> None:
        if not self._created:
            return
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._created = False
        log(f"dropped database {self.name}")

    def __enter__(self) -> BenchDatabase:
        return self.create()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.drop()


def _rabbitmqctl(*args: str, check: bool = True) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=check, capture_output=True, timeout=60)


class BenchVhost:
    def __init__(self, prefix: str = "logsight-bench") -> None:
        self.name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.url = f"{AMQP_BASE}/{self.name}"
        self._created = False

    def create(self) -> BenchVhost:
        _rabbitmqctl("add_vhost", self.name)
        self._created = True
        _rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        log(f"created vhost {self.name}")
        return self

    def delete(self) -> None:
        if not self._created:
            return
        _rabbitmqctl("delete_vhost", self.name, check=False)
        self._created = False
        log(f"deleted vhost {self.name}")

    def __enter__(self) -> BenchVhost:
        return self.create()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.delete()
