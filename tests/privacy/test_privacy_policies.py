"""The processor's cache of privacy rules and hash keys."""

from __future__ import annotations

import psycopg

from logsight.privacy.policies import PolicyCache
from logsight.storage.install_secrets import PRIVACY_HASH_KEY, install_secret
from tests.conftest import migrated_database


def test_each_database_hashes_with_its_own_key() -> None:
    # One process can serve two installs (the CLI, a test run): a key cached from the first
    # must not hash the second's e-mails, or its users-affected counts and deletions miss them.
    cache = PolicyCache()
    with (
        migrated_database("logsight_privacy_a") as first,
        migrated_database("logsight_privacy_b") as second,
        psycopg.connect(first, autocommit=True) as a,
        psycopg.connect(second, autocommit=True) as b,
    ):
        key_a, key_b = cache.hash_key(a), cache.hash_key(b)
        assert key_a == install_secret(a, PRIVACY_HASH_KEY)
        assert key_b == install_secret(b, PRIVACY_HASH_KEY)
        assert key_a != key_b
        assert cache.scrubber(a, None) is not cache.scrubber(b, None)
