"""Tokens of external issuers: Clerk and any OIDC provider (Cognito, Auth0, Keycloak).

Keys come from the issuer's JWKS through pyjwt's ``PyJWKClient``: the key set is cached for
``jwks_cache_seconds`` and refetched when a token names an unknown key id (at most once per
cooldown, so random key ids cannot make us hammer the provider). Nothing touches the network
until the first token arrives.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.error import URLError
from urllib.parse import urlparse

import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

from logsight.auth.jwt_common import (
    HTTP_TIMEOUT_SECONDS,
    LEEWAY_SECONDS,
    invalid_token,
    normalize_issuer,
    unauthorized,
    unavailable,
)

Kind = Literal["clerk", "oidc"]


@dataclass
class ExternalIssuer:
    kind: Kind
    issuer: str
    # OIDC: the audience the tokens must carry. Clerk session tokens have none.
    audience: str | None = None
    jwks_url: str | None = None
    # Clerk: the origins allowed in ``azp``; empty = not checked (as Clerk's own SDKs do).
    authorized_parties: tuple[str, ...] = ()
    cache_seconds: float = 300.0
    refresh_cooldown_seconds: float = 30.0
    _client: PyJWKClient | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.issuer = normalize_issuer(self.issuer)
        if self.kind == "oidc" and not self.audience:
            # One provider tenant issues tokens for many applications; without an audience
            # every one of them would be accepted here.
            raise ValueError("LOGSIGHT_OIDC_AUDIENCE must be set with LOGSIGHT_OIDC_ISSUER_URL")
        if self.kind == "clerk" and self.jwks_url is None:
            self.jwks_url = f"{self.issuer}/.well-known/jwks.json"

    @property
    def name(self) -> str:
        return self.issuer

    def _discover(self) -> str:
        url = f"{self.issuer}/.well-known/openid-configuration"
        if urlparse(url).scheme not in ("http", "https"):
            raise unavailable(f"cannot discover keys of issuer {self.issuer!r}")
        try:
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS) as reply:  # noqa: S310
                document = json.load(reply)
        except (URLError, TimeoutError, OSError, ValueError) as exc:
            raise unavailable("the identity provider's discovery document is unreachable") from exc
        # OpenID Connect Discovery 1.0, section 4.3: the document must name the same issuer.
        if normalize_issuer(str(document.get("issuer", ""))) != self.issuer:
            raise unavailable("the identity provider's discovery document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise unavailable("the identity provider's discovery document has no jwks_uri")
        return jwks_uri

    @property
    def client(self) -> PyJWKClient:
        with self._lock:
            if self._client is None:
                url = self.jwks_url or self._discover()
                self._client = PyJWKClient(
                    url,
                    cache_jwk_set=self.cache_seconds > 0,
                    lifespan=max(self.cache_seconds, 1),
                    timeout=HTTP_TIMEOUT_SECONDS,
                    cooldown_duration=self.refresh_cooldown_seconds,
                    headers={"user-agent": "logsight"},
                )
            return self._client

    def verify(self, token: str, header: dict[str, Any], claims: dict[str, Any]) -> dict[str, Any]:
        try:
            key = self.client.get_signing_key(header["kid"])
        except PyJWKClientConnectionError as exc:
            raise unavailable("the identity provider's keys are unreachable") from exc
        except PyJWKClientError as exc:
            raise unauthorized("the token's key is not known") from exc
        except jwt.PyJWTError as exc:
            # A key set the provider serves but pyjwt cannot use.
            raise unauthorized("the token's key is not usable") from exc
        audience = self.audience if self.kind == "oidc" else None
        # Cognito access tokens carry the app client in client_id instead of aud.
        cognito_access = (
            audience is not None and "aud" not in claims and claims.get("token_use") == "access"
        )
        check_aud = audience is not None and not cognito_access
        try:
            verified: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                issuer=claims["iss"],
                audience=audience if check_aud else None,
                leeway=LEEWAY_SECONDS,
                options={
                    "require": ["exp", "iss", "sub"] + (["aud"] if check_aud else []),
                    "verify_aud": check_aud,
                },
            )
        except jwt.PyJWTError as exc:
            raise invalid_token(exc) from exc
        if cognito_access and verified.get("client_id") != audience:
            raise unauthorized("the token is not valid for this audience")
        if self.kind == "clerk" and self.authorized_parties:
            azp = verified.get("azp")
            if azp is not None and str(azp).rstrip("/") not in self.authorized_parties:
                raise unauthorized("the token was issued to another origin")
        if not isinstance(verified.get("sub"), str) or not verified["sub"]:
            raise unauthorized("the token has no subject")
        return verified
