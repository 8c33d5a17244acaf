"""Wiring the batch processor for a process."""

from __future__ import annotations

from datetime import timedelta

from logsight.config import Settings
from logsight.privacy.policies import POLICIES
from logsight.processing.batch import BatchProcessor
from logsight.processing.user_agent import parse_user_agent
from logsight.storage.db import Database


def build_batch_processor(settings: Settings) -> BatchProcessor:
    if not settings.database_url:
        raise RuntimeError("LOGSIGHT_DATABASE_URL is not set")
    # ua-parser compiles its matchers on first use; pay that while the environment initialises
    # rather than in the first batch.
    parse_user_agent("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0")
    POLICIES.ttl = settings.privacy_cache_seconds
    return BatchProcessor(
        Database(settings.database_url),
        settings.dead_letter_queue,
        dedup_window=timedelta(hours=settings.dedup_window_hours),
        retry_seconds=settings.processor_retry_seconds,
        retry_margin_seconds=settings.processor_retry_margin_seconds,
    )
