"""Secrets of the installation, made on first use and kept in the database (``install_secrets``).

Every function reads the same value, so a hash made by the processor is found again by the
API and the CLI (deleting a user by e-mail address).
"""

from __future__ import annotations

import secrets

import psycopg

PRIVACY_HASH_KEY = "privacy_hash_key"


def install_secret(conn: psycopg.Connection, name: str) -> bytes:
    """The named secret, made (32 random bytes) when it does not exist; concurrent first
    callers all get the one that was stored."""
    row = conn.execute("SELECT secret FROM install_secrets WHERE name = %s", (name,)).fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO install_secrets (name, secret) VALUES (%s, %s)"
            " ON CONFLICT (name) DO NOTHING",
            (name, secrets.token_bytes(32)),
        )
        row = conn.execute("SELECT secret FROM install_secrets WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return bytes(row[0])
