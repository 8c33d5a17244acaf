"""What every issuer's token checks share: the algorithm allow-list, the clock leeway, errors."""

from __future__ import annotations

from typing import Any

import jwt

from logsight.errors import ApiError

# Asymmetric only: an HMAC algorithm would let anyone holding the public key sign tokens.
ALLOWED_ALGORITHMS = frozenset({"RS256", "ES256", "EdDSA"})
LEEWAY_SECONDS = 10
HTTP_TIMEOUT_SECONDS = 5.0

_CHALLENGE = (("www-authenticate", 'Bearer realm="logsight"'),)


def unauthorized(message: str, code: str = "unauthorized") -> ApiError:
    return ApiError(401, code, message, "authorization", headers=_CHALLENGE)


def unavailable(message: str) -> ApiError:
    # The identity provider could not be reached: not the client's fault, so not a 401 that
    # would make a dashboard throw its session away.
    return ApiError(503, "issuer_unavailable", message, headers=(("retry-after", "5"),))


def invalid_token(exc: jwt.PyJWTError) -> ApiError:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return unauthorized("the token has expired", "token_expired")
    if isinstance(exc, jwt.ImmatureSignatureError):
        return unauthorized("the token is not valid yet")
    return unauthorized("the token is not valid")


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims before verification: only to choose the issuer and key."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise unauthorized("the token is not a JWT") from exc
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise unauthorized(f"algorithm {alg!r} is not accepted")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise unauthorized("the token has no key id")
    if not isinstance(claims.get("iss"), str):
        raise unauthorized("the token has no issuer")
    return header, claims


def normalize_issuer(issuer: str) -> str:
    # Auth0 writes its issuer with a trailing slash, Clerk and Cognito without.
    return issuer.rstrip("/")
