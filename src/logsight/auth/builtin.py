"""LogSight's own issuer: short-lived access JWTs signed with the key ring, for installs
without an identity provider. Its iss and aud are both ``LOGSIGHT_AUTH_ISSUER``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt

from logsight.auth.jwt_common import LEEWAY_SECONDS, invalid_token, unauthorized
from logsight.auth.signing_keys import (
    ALGORITHM,
    KeyRing,
    KeyStore,
    LocalKeyStore,
    SecretsManagerKeyStore,
)
from logsight.config import Settings

# Tokens a retired key signed stay valid for at most the access token lifetime, plus the leeway
# verifiers grant for clock skew; a minute of margin on top.
_GRACE_MARGIN = timedelta(seconds=LEEWAY_SECONDS + 60)


def key_store(settings: Settings) -> KeyStore:
    if settings.signing_key_secret_arn:
        return SecretsManagerKeyStore(settings.signing_key_secret_arn)
    return LocalKeyStore(Path(settings.data_dir).resolve() / "keys")


def key_ring(settings: Settings, store: KeyStore | None = None) -> KeyRing:
    return KeyRing(
        store or key_store(settings),
        rotation=timedelta(days=settings.signing_key_rotation_days),
        grace=timedelta(seconds=settings.access_token_seconds) + _GRACE_MARGIN,
        reload_cooldown=settings.jwks_refresh_cooldown_seconds,
    )


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int


class BuiltinIssuer:
    def __init__(self, issuer: str, keys: KeyRing, access_token_seconds: int) -> None:
        self.issuer = issuer
        self.keys = keys
        self.access_token_seconds = access_token_seconds

    @classmethod
    def from_settings(cls, settings: Settings, store: KeyStore | None = None) -> BuiltinIssuer:
        return cls(settings.auth_issuer, key_ring(settings, store), settings.access_token_seconds)

    @property
    def name(self) -> str:
        return self.issuer

    def issue(self, user_id: UUID, email: str, session_id: UUID) -> AccessToken:
        key = self.keys.current()
        now = self.keys.now()
        claims = {
            "iss": self.issuer,
            "aud": self.issuer,
            "sub": str(user_id),
            "email": email,
            # The refresh-token family: revoking it (logout, reuse, password change) ends the
            # access tokens it produced too, before they expire.
            "sid": str(session_id),
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=self.access_token_seconds),
            "jti": str(uuid.uuid4()),
        }
        token = jwt.encode(
            claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"}
        )
        return AccessToken(token, self.access_token_seconds)

    def verify(self, token: str, header: dict[str, Any], claims: dict[str, Any]) -> dict[str, Any]:
        if header["alg"] != ALGORITHM:
            raise unauthorized(f"algorithm {header['alg']!r} is not accepted")
        key = self.keys.find(header["kid"])
        if key is None:
            raise unauthorized("the token's key is not known")
        try:
            verified: dict[str, Any] = jwt.decode(
                token,
                key.public_key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub", "sid"]},
            )
        except jwt.PyJWTError as exc:
            raise invalid_token(exc) from exc
        return verified
