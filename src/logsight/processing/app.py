"""Wiring the batch processor for a process."""

from __future__ import annotations

from logsight.config import Settings
from logsight.processing.batch import BatchProcessor
from logsight.storage.db import Database


def build_batch_processor(settings: Settings) -> BatchProcessor:
    if not settings.database_url:
        raise RuntimeError("LOGSIGHT_DATABASE_URL is not set")
    return BatchProcessor(Database(settings.database_url), settings.dead_letter_queue)
