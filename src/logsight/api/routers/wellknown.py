"""Public documents at the root: the built-in issuer's signing keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from logsight.api.routers.auth import Builtin

router = APIRouter(prefix="/.well-known", tags=["auth"])

# Verifiers may keep the set this long. A new key signs from the moment it is made, so a
# verifier meeting an unknown kid must refetch (as pyjwt's PyJWKClient and jose do).
_CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=60"


@router.get(
    "/jwks.json",
    summary="The built-in issuer's public signing keys (JWKS)",
    responses={404: {"description": "Built-in accounts are disabled"}},
)
def jwks(issuer: Builtin, response: Response) -> dict[str, Any]:
    response.headers["cache-control"] = _CACHE_CONTROL
    return {"keys": [key.public_jwk() for key in issuer.keys.published()]}
