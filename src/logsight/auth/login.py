"""The built-in issuer's flows: login, refresh, logout, password change. Each one is audited
(account events have no organization)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import psycopg

from logsight.auth import accounts, sessions, throttle
from logsight.auth.builtin import BuiltinIssuer
from logsight.auth.passwords import needs_rehash, require_acceptable, verify_password
from logsight.config import Settings
from logsight.errors import ApiError
from logsight.tenancy import api_tokens, audit
from logsight.tenancy.access import Principal


@dataclass(frozen=True, slots=True)
class TokenPair:
    user_id: UUID
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    password_change_required: bool = False


def _pair(
    issuer: BuiltinIssuer,
    user_id: UUID,
    email: str,
    refresh: sessions.RefreshToken,
    password_change_required: bool = False,
) -> TokenPair:
    access = issuer.issue(user_id, email, refresh.family_id)
    return TokenPair(
        user_id,
        access.token,
        access.expires_in,
        refresh.token,
        refresh.expires_in,
        password_change_required,
    )


def _lifetime(settings: Settings) -> timedelta:
    return timedelta(days=settings.refresh_token_days)


def _invalid_credentials() -> ApiError:
    return ApiError(401, "invalid_credentials", "wrong email or password")


def _count_attempt(
    conn: psycopg.Connection, settings: Settings, email: str, ip: str | None
) -> throttle.Attempt:
    """The attempt, counted as a failure until the password proves right; a refusal is
    audited once per failure that caused it (not once per refused request)."""
    try:
        return throttle.begin(conn, settings, throttle.subjects(email, ip))
    except throttle.Throttled as refused:
        if refused.first:
            audit.record(
                conn,
                "auth.login_throttled",
                ip=ip,
                details={
                    "email": email,
                    "network": refused.subjects.network,
                    "reason": refused.reason,
                    "retry_after": refused.retry_after,
                },
            )
        raise


def _failure_details(attempt: throttle.Attempt) -> dict[str, object]:
    return {
        "network": attempt.subjects.network,
        "failures": attempt.failures,
        "under_attack": attempt.under_attack,
        "next_delay_seconds": attempt.next_delay,
    }


def login(
    conn: psycopg.Connection,
    settings: Settings,
    issuer: BuiltinIssuer,
    *,
    email: str,
    password: str,
    ip: str | None,
) -> TokenPair:
    attempt = _count_attempt(conn, settings, email, ip)
    user = accounts.find_for_login(conn, email)
    # Always hash, even for unknown accounts: the answer takes as long either way.
    matches = verify_password(user.password_hash if user else None, password)
    if user is None or not matches or user.disabled:
        reason = "unknown_account" if user is None else "disabled" if matches else "password"
        audit.record(
            conn,
            "auth.login_failed",
            actor_user_id=user.id if user else None,
            target_type="user" if user else None,
            target_id=user.id if user else None,
            ip=ip,
            details={"email": email, "reason": reason, **_failure_details(attempt)},
        )
        raise _invalid_credentials()
    throttle.succeeded(conn, attempt)
    # Signing needs the key ring: load it before anything is written.
    issuer.keys.current()
    with audit.audited(conn, user.id, ip) as log:
        if user.password_hash and needs_rehash(user.password_hash):
            accounts.set_password(conn, user.id, password)
        accounts.record_login(conn, user.id)
        refresh = sessions.start(conn, user.id, _lifetime(settings))
        log.record("auth.login", "session", refresh.family_id)
    return _pair(issuer, user.id, user.email, refresh, user.password_change_required)


def refresh(
    conn: psycopg.Connection,
    settings: Settings,
    issuer: BuiltinIssuer,
    token: str,
    ip: str | None,
) -> TokenPair:
    issuer.keys.current()
    result = sessions.rotate(conn, token, _lifetime(settings))
    if isinstance(result, sessions.Rejected):
        if result.reason == "reused":
            audit.record(
                conn,
                "auth.refresh_reused",
                actor_user_id=result.user_id,
                target_type="session",
                target_id=result.family_id,
                ip=ip,
            )
            raise ApiError(
                401,
                "refresh_token_reused",
                "this refresh token was already used; the session is revoked, log in again",
                "refresh_token",
            )
        raise ApiError(
            401, "invalid_refresh_token", f"the refresh token is {result.reason}", "refresh_token"
        )
    return _pair(issuer, result.user_id, result.email, result.refresh)


def logout(conn: psycopg.Connection, token: str, ip: str | None) -> None:
    found = sessions.family_of(conn, token)
    if found is None:
        return
    user_id, family_id = found
    with audit.audited(conn, user_id, ip) as log:
        if sessions.revoke_family(conn, family_id):
            log.record("auth.logout", "session", family_id)


@dataclass(frozen=True, slots=True)
class PasswordChanged:
    tokens: TokenPair
    revoked_sessions: int
    revoked_api_tokens: list[api_tokens.RevokedToken]


def change_password(
    conn: psycopg.Connection,
    settings: Settings,
    issuer: BuiltinIssuer,
    who: Principal,
    *,
    current: str,
    new: str,
    revoke_api_tokens: bool,
    ip: str | None,
) -> PasswordChanged:
    stored = accounts.password_hash_of(conn, who.user_id)
    if stored is None:
        raise ApiError(
            400,
            "no_password",
            "this account signs in through an identity provider and has no password",
        )
    require_acceptable(new, who.email, "body.new_password")
    # A stolen session must not become a way to guess the password: same limits as login.
    attempt = _count_attempt(conn, settings, who.email, ip)
    if not verify_password(stored, current):
        audit.record(
            conn,
            "user.password_change_failed",
            actor_user_id=who.user_id,
            target_type="user",
            target_id=who.user_id,
            ip=ip,
            details=_failure_details(attempt),
        )
        raise ApiError(400, "wrong_password", "the current password is wrong", "current_password")
    throttle.succeeded(conn, attempt)
    issuer.keys.current()
    with audit.audited(conn, who.user_id, ip) as log:
        accounts.set_password(conn, who.user_id, new)
        accounts.require_password_change(conn, who.user_id, False)
        revoked = sessions.revoke_user(conn, who.user_id)
        # Scripts' tokens outlive sessions: whoever learnt the old password may have made one.
        tokens = api_tokens.revoke_all(conn, who.user_id) if revoke_api_tokens else []
        for token in tokens:
            reason = {"name": token.name, "prefix": token.prefix, "reason": "password_changed"}
            log.record("token.revoked", "api_token", token.id, reason)
        refresh = sessions.start(conn, who.user_id, _lifetime(settings))
        log.record(
            "user.password_changed",
            "user",
            who.user_id,
            {"revoked_sessions": revoked, "revoked_api_tokens": [str(t.id) for t in tokens]},
        )
    return PasswordChanged(_pair(issuer, who.user_id, who.email, refresh), revoked, tokens)
