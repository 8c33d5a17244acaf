"""The built-in issuer's signing keys: persistence in DATA_DIR/keys and in Secrets Manager
(moto), rotation with a grace period, several environments sharing one store."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from logsight.auth.builtin import BuiltinIssuer
from logsight.auth.jwt_common import peek
from logsight.auth.signing_keys import (
    KeyRing,
    KeyStore,
    LocalKeyStore,
    SecretsManagerKeyStore,
)
from logsight.config import Settings
from logsight.errors import ApiError

T0 = datetime(2030, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def ring(store: KeyStore, clock: Clock, *, cooldown: float = 0) -> KeyRing:
    return KeyRing(
        store,
        rotation=timedelta(days=90),
        grace=timedelta(minutes=16),
        reload_cooldown=cooldown,
        now=clock,
    )


def issuer(keys: KeyRing) -> BuiltinIssuer:
    return BuiltinIssuer("logsight", keys, access_token_seconds=900)


def _verify_signature(who: BuiltinIssuer, token: str, header: dict[str, Any]) -> dict[str, Any]:
    key = who.keys.find(header["kid"])
    if key is None:
        raise LookupError(header["kid"])
    # Tokens minted at a fake time: only the signature and the key lookup are checked.
    decoded: dict[str, Any] = jwt.decode(
        token,
        key.public_key,
        algorithms=["ES256"],
        options={
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
            "verify_aud": False,
        },
    )
    return decoded


def sign(who: BuiltinIssuer) -> str:
    return who.issue(uuid.uuid4(), "a@example.com", uuid.uuid4()).token


def kids(keys: KeyRing) -> list[str]:
    return [k.kid for k in keys.published()]


def test_local_store_creates_a_private_file_once(tmp_path: Path) -> None:
    store = LocalKeyStore(tmp_path / "keys")
    clock = Clock()
    first = ring(store, clock)
    kid = first.current().kid
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    assert store.path.stat().st_mode & 0o777 == 0o600
    saved = json.loads(store.path.read_text())
    assert [k["kid"] for k in saved["keys"]] == [kid]
    assert "PRIVATE KEY" in saved["keys"][0]["private_key"]
    # A restart reads the same key, and tokens signed before verify after.
    token = sign(issuer(first))
    again = ring(LocalKeyStore(tmp_path / "keys"), clock)
    assert again.current().kid == kid
    assert (
        _verify_signature(issuer(again), token, jwt.get_unverified_header(token))["iss"]
        == "logsight"
    )


def test_rotation_keeps_the_old_key_until_its_tokens_expire(tmp_path: Path) -> None:
    clock = Clock()
    keys = ring(LocalKeyStore(tmp_path / "keys"), clock)
    who = issuer(keys)
    old = keys.current().kid
    old_token = sign(who)

    clock.advance(days=89, hours=23)
    assert keys.current().kid == old

    clock.advance(hours=1)
    new = keys.current().kid
    assert new != old
    assert jwt.get_unverified_header(sign(who))["kid"] == new
    # The old key still verifies and is still published...
    assert kids(keys) == [old, new]
    assert _verify_signature(who, old_token, jwt.get_unverified_header(old_token))
    # ...until every token it signed has expired.
    clock.advance(minutes=15)
    assert kids(keys) == [old, new]
    clock.advance(minutes=1, seconds=1)
    assert kids(keys) == [new]
    with pytest.raises(LookupError):
        _verify_signature(who, old_token, jwt.get_unverified_header(old_token))
    # The store forgets it at the next write.
    keys.rotate()
    stored = json.loads((tmp_path / "keys" / "signing-keys.json").read_text())
    assert old not in {k["kid"] for k in stored["keys"]}


def test_another_environment_learns_a_rotation_on_an_unknown_kid(tmp_path: Path) -> None:
    clock = Clock()
    a = ring(LocalKeyStore(tmp_path / "keys"), clock)
    b = ring(LocalKeyStore(tmp_path / "keys"), clock)
    assert a.current().kid == b.current().kid
    rotated = a.rotate()
    token = sign(issuer(a))
    assert jwt.get_unverified_header(token)["kid"] == rotated.kid
    # b has not reloaded since; the unknown kid makes it read the store.
    assert _verify_signature(issuer(b), token, jwt.get_unverified_header(token))
    assert b.current().kid == rotated.kid


def test_unknown_kids_reload_the_store_at_most_once_per_cooldown(tmp_path: Path) -> None:
    class CountingStore(LocalKeyStore):
        loads = 0

        def load(self) -> dict[str, Any] | None:
            CountingStore.loads += 1
            return super().load()

    clock = Clock()
    keys = ring(CountingStore(tmp_path / "keys"), clock, cooldown=60)
    keys.current()
    before = CountingStore.loads
    for n in range(10):
        assert keys.find(f"forged-{n}") is None
    assert CountingStore.loads == before


def test_environments_agree_on_a_rotation_and_writes_merge(tmp_path: Path) -> None:
    clock = Clock()
    a = ring(LocalKeyStore(tmp_path / "keys"), clock)
    b = ring(LocalKeyStore(tmp_path / "keys"), clock)
    first = a.current().kid
    assert b.current().kid == first
    clock.advance(days=91)
    # Both environments see the key due; the second finds the first's new key and adopts it.
    ka = a.current().kid
    kb = b.current().kid
    assert ka == kb != first
    # When the store lost keys (Secrets Manager has no locking: last writer wins), the next
    # write merges back what the writing environment knew.
    a_token = sign(issuer(a))
    (tmp_path / "keys" / "signing-keys.json").unlink()
    b.rotate()
    assert _verify_signature(issuer(b), a_token, jwt.get_unverified_header(a_token))


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        import boto3

        yield boto3.client("secretsmanager", region_name="eu-west-1")


def test_secrets_manager_store(secrets_manager: Any, settings: Settings) -> None:
    # As the CDK app makes it: a secret without a value yet.
    arn = secrets_manager.create_secret(Name=f"logsight/signing-keys-{uuid.uuid4().hex[:6]}")["ARN"]
    configured = settings.model_copy(update={"signing_key_secret_arn": arn})
    first = BuiltinIssuer.from_settings(configured)
    assert isinstance(first.keys.store, SecretsManagerKeyStore)
    token = sign(first)
    kid = jwt.get_unverified_header(token)["kid"]
    stored = json.loads(secrets_manager.get_secret_value(SecretId=arn)["SecretString"])
    assert [k["kid"] for k in stored["keys"]] == [kid]

    # A new environment (cold start) reads the key instead of making one.
    second = BuiltinIssuer.from_settings(configured)
    assert second.keys.current().kid == kid
    header, claims = peek(token)
    assert second.verify(token, header, claims)["iss"] == "logsight"

    rotated = second.keys.rotate()
    stored = json.loads(secrets_manager.get_secret_value(SecretId=arn)["SecretString"])
    assert [k["kid"] for k in stored["keys"]] == [kid, rotated.kid]
    assert stored["keys"][0]["retired_at"] is not None
    # The first environment meets the new kid and reloads.
    new_token = sign(second)
    header, claims = peek(new_token)
    first.keys.reload_cooldown = 0
    assert first.verify(new_token, header, claims)["sub"]


def test_secrets_manager_store_creates_a_named_secret(secrets_manager: Any) -> None:
    name = f"logsight/keys-{uuid.uuid4().hex[:6]}"
    keys = ring(SecretsManagerKeyStore(name), Clock())
    kid = keys.current().kid
    stored = json.loads(secrets_manager.get_secret_value(SecretId=name)["SecretString"])
    assert stored["keys"][0]["kid"] == kid


def test_builtin_verification_errors_are_401(tmp_path: Path) -> None:
    keys = ring(LocalKeyStore(tmp_path / "keys"), Clock(datetime.now(UTC)))
    who = issuer(keys)
    token = sign(who)
    header, claims = peek(token)
    assert who.verify(token, header, claims)["aud"] == "logsight"
    with pytest.raises(ApiError) as caught:
        who.verify(token, {**header, "kid": "nope"}, claims)
    assert caught.value.status == 401
