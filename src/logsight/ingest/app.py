"""Wiring the ingest service for a process: settings, key store, quotas, per-thread publishers."""

from __future__ import annotations

import threading

from logsight.config import Settings
from logsight.ingest.core import IngestCore
from logsight.ingest.quotas import Quotas
from logsight.ingest.service import IngestService
from logsight.queue.publisher import Publisher
from logsight.storage.db import Database, Outage
from logsight.storage.keys import KeyStore


def build_ingest_service(settings: Settings) -> IngestService:
    if not settings.database_url:
        raise RuntimeError("LOGSIGHT_DATABASE_URL is not set")
    local = threading.local()

    # One broker connection per execution environment; the local gateway runs environments as
    # threads, hence thread-local rather than global.
    def publisher_for() -> Publisher:
        publisher: Publisher | None = getattr(local, "publisher", None)
        if publisher is None:
            publisher = local.publisher = Publisher(settings)
        return publisher

    # Keys and quotas share the environment's connection, and what it learns of an outage. Their
    # statements are short autocommit reads and upserts, so the local gateway's threads share one
    # connection too rather than holding a backend each.
    db, outage = Database(settings.database_url, shared=True), Outage()
    keys = KeyStore(
        db, settings.key_cache_seconds, stale_seconds=settings.key_stale_seconds, outage=outage
    )
    return IngestService(IngestCore(settings, keys, publisher_for, Quotas(settings, db, outage)))
