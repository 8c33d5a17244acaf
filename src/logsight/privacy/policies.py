"""The processor's view of every project's rules: read from the database, kept briefly.

A change made through the API reaches the processor within ``ttl`` seconds
(LOGSIGHT_PRIVACY_CACHE_SECONDS). When the settings cannot be read the database is down, and
so is the write that would follow: the error propagates and the batch is retried like any
other infrastructure fault.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from uuid import UUID

import psycopg

from logsight.privacy.scrubber import PrivacySettings, Scrubber
from logsight.query.privacy import privacy_settings
from logsight.storage.install_secrets import PRIVACY_HASH_KEY, install_secret

DEFAULT_TTL_SECONDS = 10.0
# Each scrubber's caches are bounded (a few MB at most); so is their number.
_MAX_SCRUBBERS = 256


class PolicyCache:
    def __init__(
        self, ttl: float = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        # By database: one process may serve more than one (the CLI, tests), and each install
        # has its own key.
        self._keys: dict[tuple[str, int, str], bytes] = {}
        self._defaults: dict[bytes, Scrubber] = {}
        self._scrubbers: dict[UUID, tuple[float, Scrubber]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._scrubbers.clear()

    def hash_key(self, conn: psycopg.Connection) -> bytes:
        database = (conn.info.host, conn.info.port, conn.info.dbname)
        key = self._keys.get(database)
        if key is None:
            key = self._keys[database] = install_secret(conn, PRIVACY_HASH_KEY)
        return key

    def scrubbers(
        self, conn: psycopg.Connection, project_ids: Iterable[UUID]
    ) -> dict[UUID, Scrubber]:
        now = self._clock()
        wanted = set(project_ids)
        with self._lock:
            fresh = {
                pid: entry[1]
                for pid in wanted
                if (entry := self._scrubbers.get(pid)) is not None and now - entry[0] < self.ttl
            }
        missing = wanted - fresh.keys()
        if missing:
            key = self.hash_key(conn)
            settings = privacy_settings(conn, missing)
            with self._lock:
                # A scrubber whose settings did not change is kept, with its warm caches.
                loaded = {
                    pid: old[1]
                    if (old := self._scrubbers.get(pid)) is not None and old[1].settings == rules
                    else Scrubber(rules, key)
                    for pid, rules in settings.items()
                }
                if len(self._scrubbers) > _MAX_SCRUBBERS:
                    # Scrubbers hold caches: keep those of the projects sending now.
                    self._scrubbers = {
                        pid: entry
                        for pid, entry in self._scrubbers.items()
                        if now - entry[0] < self.ttl
                    }
                    if len(self._scrubbers) > _MAX_SCRUBBERS:
                        self._scrubbers.clear()
                for pid, scrubber in loaded.items():
                    self._scrubbers[pid] = (now, scrubber)
            fresh.update(loaded)
        return fresh

    def scrubber(self, conn: psycopg.Connection, project_id: UUID | None) -> Scrubber:
        """A project's scrubber; a message of no known project gets the defaults."""
        if project_id is None:
            key = self.hash_key(conn)
            default = self._defaults.get(key)
            if default is None:
                default = self._defaults[key] = Scrubber(PrivacySettings(), key)
            return default
        return self.scrubbers(conn, [project_id])[project_id]


# One per process: the processor and the dead-letter recording share it.
POLICIES = PolicyCache()
