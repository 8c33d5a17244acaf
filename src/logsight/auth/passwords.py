"""Passwords: the rules a new one must meet, and hashing with argon2id at OWASP's minimum
parameters (m=19 MiB, t=2, p=1)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from logsight.errors import ApiError

MIN_LENGTH = 8
MAX_LENGTH = 1024


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("logsight: no such account")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's frequency lists (Xato's corpus of ten
    million leaked passwords), lowercase. Loaded on first use: only setting a password needs
    them."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def problem(password: str, email: str) -> str | None:
    """Why ``password`` may not be used by the account ``email``, or None when it may."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    folded = password.strip().casefold()
    address = email.strip().casefold()
    if folded in (address, address.split("@", 1)[0]):
        return "the password may not be the account's email address or its local part"
    if folded in common_passwords():
        return "this password is one of the most common ones; choose another"
    return None


def require_acceptable(password: str, email: str, field: str) -> None:
    """Raise 422 ``weak_password`` naming ``field`` when the password breaks a rule."""
    found = problem(password, email)
    if found is not None:
        raise ApiError(422, "weak_password", found, field)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. Without a stored hash a dummy one is checked anyway,
    so unknown accounts take as long to reject as wrong passwords (no enumeration by timing)."""
    try:
        ok = _hasher().verify(stored_hash or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)
