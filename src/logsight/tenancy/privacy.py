"""Changing a project's privacy settings (``project_privacy``), with their rules."""

from __future__ import annotations

from uuid import UUID

import psycopg

from logsight.privacy.scrubber import PrivacySettings


def save_privacy_settings(
    conn: psycopg.Connection, project_id: UUID, settings: PrivacySettings
) -> None:
    """Store the whole set (an upsert: a project gets its row on its first change)."""
    conn.execute(
        "INSERT INTO project_privacy"
        " (project_id, scrub, sensitive_keys, safe_keys, email_mode, ip_mode, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, now())"
        " ON CONFLICT (project_id) DO UPDATE SET scrub = EXCLUDED.scrub,"
        " sensitive_keys = EXCLUDED.sensitive_keys, safe_keys = EXCLUDED.safe_keys,"
        " email_mode = EXCLUDED.email_mode, ip_mode = EXCLUDED.ip_mode, updated_at = now()",
        (
            project_id,
            settings.scrub,
            list(settings.sensitive_keys),
            list(settings.safe_keys),
            settings.email.value,
            settings.ip.value,
        ),
    )
