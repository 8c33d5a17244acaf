"""What the numbers were measured on, and how busy the machine was besides the bench."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bench.common import PG_ADMIN_URL
from bench.cpu import _machine_busy


def _first(path: str, key: str) -> str:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    return "?"


def _run(*argv: str) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (out.stdout or out.stderr).strip()


def machine_info(amqp_url: str) -> dict[str, str]:
    mem_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    info = {
        "CPUs (nproc)": _run("nproc"),
        "CPU model": _first("/proc/cpuinfo", "model name"),
        "Memory": f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "?",
        "Kernel": f"{platform.system()} {platform.release()}",
        "Python": sys.version.split()[0] + f" ({sys.executable})",
    }
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        settings = {
            name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
            for name in ("shared_buffers", "synchronous_commit", "fsync", "max_wal_size")
        }
    info["PostgreSQL"] = f"{row[0] if row else '?'} (127.0.0.1:5432, shared) " + ", ".join(
        f"{k}={v}" for k, v in sorted(settings.items())
    )
    info["RabbitMQ"] = f"{_rabbitmq_version(amqp_url)} (127.0.0.1:5672, shared)"
    info["wrk"] = _run("wrk", "--version").splitlines()[0] if _run("wrk", "--version") else "?"
    return info


def _rabbitmq_version(amqp_url: str) -> str:
    import pika

    params = pika.URLParameters(amqp_url)
    params.heartbeat = 0
    try:
        with pika.BlockingConnection(params) as connection:
            impl = getattr(connection, "_impl", None)  # pika keeps server properties there
            props = getattr(impl, "server_properties", {}) or {}
            version = props.get("version", b"?")
            return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:
        return "?"


def background_load(seconds: float = 2.0) -> float:
    """Cores busy on the machine while the bench itself is idle."""
    before = _machine_busy()
    time.sleep(seconds)
    return (_machine_busy() - before) / seconds


def wait_for_quiet(max_wait: float, threshold: float = 0.3) -> float:
    """Wait (at most ``max_wait`` s) until other work uses under ``threshold`` cores."""
    deadline = time.monotonic() + max_wait
    load = background_load()
    while load > threshold and time.monotonic() < deadline:
        load = background_load(3.0)
    return load


def cpu_count() -> int:
    return os.cpu_count() or 1
