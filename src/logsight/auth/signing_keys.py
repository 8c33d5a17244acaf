"""The built-in issuer's signing keys: generated on first use, persisted, rotated.

Keys live in AWS Secrets Manager (``LOGSIGHT_SIGNING_KEY_SECRET_ARN``) or in ``DATA_DIR/keys``.
The newest unretired key signs. When it is ``rotation`` old a new key becomes current and the
old one is retired: it still verifies (and is still published) until every token it signed has
expired (``grace``), then it is dropped.

Several API environments share one store. Each write re-reads the store and merges by key id, so
environments that rotate at the same moment keep each other's keys (the newest wins as current,
the others retire), and a token signed in any environment stays verifiable everywhere: a verifier
that meets an unknown key id reloads the store (at most once per ``reload_cooldown``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from logsight.private_files import PRIVATE_FILE, make_private_directory, write_private

ALGORITHM = "ES256"
_FORMAT_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    created_at: datetime
    retired_at: datetime | None = None

    @classmethod
    def generate(cls, now: datetime) -> SigningKey:
        private_key = ec.generate_private_key(ec.SECP256R1())
        return cls(_thumbprint(private_key.public_key()), private_key, now)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def to_json(self) -> dict[str, Any]:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "kid": self.kid,
            "alg": ALGORITHM,
            "private_key": pem.decode(),
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SigningKey:
        private_key = serialization.load_pem_private_key(data["private_key"].encode(), None)
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"signing key {data.get('kid')!r} is not an EC key")
        retired = data.get("retired_at")
        return cls(
            kid=data["kid"],
            private_key=private_key,
            created_at=datetime.fromisoformat(data["created_at"]),
            retired_at=datetime.fromisoformat(retired) if retired else None,
        )


def _thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    # RFC 7638: the key id is derived from the key, so it can never name two different keys.
    jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )
    return _b64(hashlib.sha256(canonical.encode()).digest())


class KeyStore(Protocol):
    def load(self) -> dict[str, Any] | None: ...

    def save(self, data: dict[str, Any]) -> None: ...

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Excludes other writers where the store can (a file lock); a no-op elsewhere."""
        ...


class LocalKeyStore:
    """``DATA_DIR/keys/signing-keys.json``: directory 0700, file 0600, replaced atomically."""

    FILE = "signing-keys.json"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def path(self) -> Path:
        return self.directory / self.FILE

    def _ensure_directory(self) -> None:
        make_private_directory(self.directory)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        # Several local processes (gateway workers) may start at once: one generates the key.
        self._ensure_directory()
        fd = os.open(self.directory / ".lock", os.O_CREAT | os.O_RDWR, PRIVATE_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def load(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        data: dict[str, Any] = json.loads(text)
        return data

    def save(self, data: dict[str, Any]) -> None:
        self._ensure_directory()
        write_private(self.path, json.dumps(data, indent=1))


class SecretsManagerKeyStore:
    """One Secrets Manager secret holding the key ring as JSON. boto3 is imported on first use so
    importing the API stays light; the region comes from the ARN when one is given."""

    def __init__(self, secret_id: str, client: Any = None) -> None:
        self.secret_id = secret_id
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            parts = self.secret_id.split(":")
            region = parts[3] if self.secret_id.startswith("arn:") and len(parts) > 3 else None
            self._client = boto3.client("secretsmanager", region_name=region or None)
        return self._client

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def load(self) -> dict[str, Any] | None:
        try:
            reply = self.client.get_secret_value(SecretId=self.secret_id)
        except self.client.exceptions.ResourceNotFoundException:
            # The secret does not exist, or exists without a value yet (as CDK creates it).
            return None
        text = reply.get("SecretString")
        if not text or not text.strip():
            return None
        data: dict[str, Any] = json.loads(text)
        return data if data.get("keys") is not None else None

    def save(self, data: dict[str, Any]) -> None:
        text = json.dumps(data)
        try:
            self.client.put_secret_value(SecretId=self.secret_id, SecretString=text)
        except self.client.exceptions.ResourceNotFoundException:
            if self.secret_id.startswith("arn:"):
                raise
            self.client.create_secret(Name=self.secret_id, SecretString=text)


def _parse(data: dict[str, Any] | None) -> list[SigningKey]:
    if not data:
        return []
    return [SigningKey.from_json(item) for item in data.get("keys", [])]


def _serialize(keys: list[SigningKey]) -> dict[str, Any]:
    return {"version": _FORMAT_VERSION, "keys": [k.to_json() for k in keys]}


class KeyRing:
    """The keys of the built-in issuer, cached in memory for the life of the environment."""

    def __init__(
        self,
        store: KeyStore,
        *,
        rotation: timedelta,
        grace: timedelta,
        reload_cooldown: float = 30.0,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.rotation = rotation
        self.grace = grace
        self.reload_cooldown = reload_cooldown
        self.now = now
        self._keys: list[SigningKey] | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def current(self) -> SigningKey:
        """The key to sign with now; generates the first key or rotates when due."""
        with self._lock:
            active = self._active(self._ready())
        assert active is not None
        return active

    def find(self, kid: str) -> SigningKey | None:
        """A key that may still verify tokens, by id; reloads the store once on a miss, because
        another environment may have rotated."""
        with self._lock:
            keys = self._keys if self._keys is not None else self._reload()
            found = self._lookup(keys, kid)
            if found is None and time.monotonic() - self._loaded_at >= self.reload_cooldown:
                found = self._lookup(self._reload(), kid)
            return found

    def published(self) -> list[SigningKey]:
        """Every key whose tokens may still be valid: the current one and the retired in grace."""
        with self._lock:
            keys = self._ready()
        now = self.now()
        return [k for k in keys if self._verifies(k, now)]

    def rotate(self) -> SigningKey:
        """Make a new key current now, whatever the age of the old one."""
        with self._lock:
            active = self._active(self._sync(force_rotation=True))
        assert active is not None
        return active

    def _ready(self) -> list[SigningKey]:
        keys = self._keys if self._keys is not None else self._sync()
        if self._due(self._active(keys)):
            keys = self._sync()
        return keys

    def _lookup(self, keys: list[SigningKey], kid: str) -> SigningKey | None:
        now = self.now()
        return next((k for k in keys if k.kid == kid and self._verifies(k, now)), None)

    def _verifies(self, key: SigningKey, now: datetime) -> bool:
        return key.retired_at is None or key.retired_at + self.grace > now

    @staticmethod
    def _active(keys: list[SigningKey]) -> SigningKey | None:
        unretired = [k for k in keys if k.retired_at is None]
        return max(unretired, key=lambda k: k.created_at) if unretired else None

    def _due(self, key: SigningKey | None) -> bool:
        return key is None or key.created_at + self.rotation <= self.now()

    def _reload(self) -> list[SigningKey]:
        self._keys = _parse(self.store.load())
        self._loaded_at = time.monotonic()
        return self._keys

    def _sync(self, *, force_rotation: bool = False) -> list[SigningKey]:
        """Read the store, merge in what this environment knows, rotate and prune, write back
        when anything changed."""
        with self.store.locked():
            stored = _parse(self.store.load())
            known = {k.kid: k for k in stored}
            for key in self._keys or []:
                known.setdefault(key.kid, key)
            keys = list(known.values())
            now = self.now()
            active = self._active(keys)
            if active is None or force_rotation or self._due(active):
                active = SigningKey.generate(now)
                keys.append(active)
            # Exactly one key is current; any other unretired key (the old current one, or one
            # made by a concurrent rotation elsewhere) retires now and verifies for the grace.
            keys = [
                k if k is active or k.retired_at is not None else replace(k, retired_at=now)
                for k in keys
            ]
            keys = sorted((k for k in keys if self._verifies(k, now)), key=lambda k: k.created_at)
            if [k.to_json() for k in keys] != [k.to_json() for k in stored]:
                self.store.save(_serialize(keys))
        self._keys = keys
        self._loaded_at = time.monotonic()
        return keys
