"""A real identity provider's key endpoints on 127.0.0.1, and keys to sign test tokens with.

``JwksServer`` serves, per issuer name, ``/<name>/.well-known/jwks.json`` (Clerk's layout),
``/<name>/.well-known/openid-configuration`` (OIDC discovery) and ``/<name>/keys`` (the
discovered jwks_uri). Tests change the served keys to simulate rotation and count fetches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass
class IdpKey:
    kid: str
    alg: str
    private_key: Any

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> dict[str, Any]:
        algorithm = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}[self.alg]
        data: dict[str, Any] = algorithm.to_jwk(self.public_key, as_dict=True)  # type: ignore[attr-defined]
        return {**data, "kid": self.kid, "use": "sig", "alg": self.alg}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(
            claims,
            self.private_key,
            algorithm=self.alg,
            headers={"kid": self.kid, **(headers or {})},
        )


def rsa_key(kid: str | None = None) -> IdpKey:
    return IdpKey(
        kid or f"rsa-{uuid.uuid4().hex[:8]}", "RS256", rsa.generate_private_key(65537, 2048)
    )


def ec_key(kid: str | None = None) -> IdpKey:
    return IdpKey(
        kid or f"ec-{uuid.uuid4().hex[:8]}", "ES256", ec.generate_private_key(ec.SECP256R1())
    )


def ed_key(kid: str | None = None) -> IdpKey:
    return IdpKey(
        kid or f"ed-{uuid.uuid4().hex[:8]}", "EdDSA", ed25519.Ed25519PrivateKey.generate()
    )


def claims(issuer: str, *, lifetime: int = 300, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer,
        "sub": f"user_{uuid.uuid4().hex[:12]}",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        **extra,
    }


def unsigned(payload: dict[str, Any], kid: str) -> str:
    """``alg: none``: a token anyone can write."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{header}.{b64url(json.dumps(payload).encode())}."


def hmac_with_public_key(payload: dict[str, Any], kid: str, public_pem: bytes) -> str:
    """The classic confusion: HS256 "signed" with the issuer's PUBLIC key as the HMAC secret.
    pyjwt refuses to make such a token, so it is written by hand."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64url(json.dumps(payload).encode())
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(signature)}"


def tampered(token: str, **changes: Any) -> str:
    """The same signature over a changed payload."""
    header, body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    return f"{header}.{b64url(json.dumps(payload).encode())}.{signature}"


@dataclass
class JwksServer:
    keys: dict[str, list[IdpKey]] = field(default_factory=dict)
    fetches: dict[str, int] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def issuer(self, name: str) -> str:
        return f"{self.url}/{name}"

    def serve(self, name: str, *keys: IdpKey) -> None:
        with self._lock:
            self.keys[name] = list(keys)

    def fetch_count(self, name: str) -> int:
        with self._lock:
            return self.fetches.get(name, 0)

    def _respond(self, path: str) -> tuple[int, dict[str, Any] | None]:
        name, _, rest = path.lstrip("/").partition("/")
        with self._lock:
            if name not in self.keys:
                return 404, None
            if rest in (".well-known/jwks.json", "keys"):
                self.fetches[name] = self.fetches.get(name, 0) + 1
                return 200, {"keys": [k.jwk() for k in self.keys[name]]}
        if rest == ".well-known/openid-configuration":
            issuer = self.issuer(name)
            return 200, {"issuer": issuer, "jwks_uri": f"{issuer}/keys"}
        return 404, None

    def start(self) -> JwksServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = outer._respond(self.path)
                data = json.dumps(body or {"error": "not found"}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
