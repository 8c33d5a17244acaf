"""Which keys hold secrets: matched on the key's normalized parts, not on substrings.

A key is split into lower-case parts at separators and camelCase humps (``X-Auth-Token`` →
``x auth token``, ``apiKey`` → ``api key``). A rule matches when it equals a run of adjacent
parts, with or without the separators between them (``api_key`` matches ``apiKey``,
``API-KEY`` and ``apikey``; digits after letters are a part of their own:
``token2``). So ``auth`` catches ``X-Auth-Token`` but not ``author``, and
``session`` catches ``session_id`` but not ``possession``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DEFAULT_SENSITIVE_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "access_key",
    "private_key",
    "authorization",
    "auth",
    "credential",
    "credentials",
    "cookie",
    "cookies",
    "set_cookie",
    "session",
    "sessionid",
    "phpsessid",
    "jsessionid",
    "connect_sid",
    "csrf",
    "csrftoken",
    "xsrf",
    "credit_card",
    "card_number",
    "cvv",
    "cvv2",
    "cvc",
    "ssn",
    "signature",
)

_HUMPS = re.compile(r"([a-z0-9])([A-Z])|([A-Z])([A-Z][a-z])")
_DIGITS_AFTER_LETTERS = re.compile(r"([A-Za-z])([0-9])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")
# Keys repeat endlessly (header names, property names); each is judged once per process.
_CACHE_LIMIT = 20_000


def key_parts(key: str) -> tuple[str, ...]:
    split = _HUMPS.sub(lambda m: f"{m[1] or m[3]}_{m[2] or m[4]}", key)
    split = _DIGITS_AFTER_LETTERS.sub(r"\1_\2", split)
    return tuple(part for part in _SEPARATORS.split(split.lower()) if part)


def normalize_key(key: str) -> str:
    """The form rules are stored in: lower-case parts joined by ``_``."""
    return "_".join(key_parts(key))


class KeyRules:
    """A set of key rules; ``matches`` is cached per key string."""

    def __init__(self, rules: Iterable[str]) -> None:
        self._compact = frozenset(
            "".join(parts) for parts in (key_parts(r) for r in rules) if parts
        )
        self._cache: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._compact)

    def matches(self, key: str) -> bool:
        found = self._cache.get(key)
        if found is None:
            found = self._judge(key)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = found
        return found

    def _judge(self, key: str) -> bool:
        parts = key_parts(key)
        rules = self._compact
        for start in range(len(parts)):
            run = ""
            for part in parts[start:]:
                run += part
                if run in rules:
                    return True
        return False
