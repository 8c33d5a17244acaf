"""Docker-free Lambda assets: contents, sizes, caching, and the handlers importing from a clean
directory with nothing but the asset and the standard library.

The deployed assets are arm64; this machine cannot load aarch64 extension modules, so an
x86_64 copy built by the same code from the same lock is imported instead (wheels cached by uv).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.build import FUNCTIONS, BuiltAsset, build_all, build_function

HOST = {"x86_64": "x86_64", "aarch64": "arm64"}.get(os.uname().machine)
# Lambda's own limits; the budgets (ingest 6 MB, others 12 MB) are reported by
# `make build` and docs/deploy.md; these ceilings catch regressions from today's sizes.
LAMBDA_ZIP_LIMIT = 50 * 1024 * 1024
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
# The alerts function carries cryptography (channel secrets are decrypted there) and urllib3;
# the processor and the api symbolic (source maps), the api python-multipart (chunk uploads),
# ingest opentelemetry-proto and protobuf (OTLP logs).
CEILINGS_MB = {"ingest": 13, "processor": 16, "api": 23, "alerts": 17, "deploy": 13}


@pytest.fixture(scope="module")
def arm64() -> dict[str, BuiltAsset]:
    return {a.function.name: a for a in build_all("arm64")}


@pytest.fixture(scope="module")
def native() -> dict[str, BuiltAsset]:
    if HOST is None:
        pytest.skip(f"no wheels platform for {os.uname().machine}")
    return {a.function.name: a for a in build_all(HOST)}


def _names(asset: BuiltAsset) -> set[str]:
    with zipfile.ZipFile(asset.zip_path) as archive:
        return set(archive.namelist())


def _top_levels(asset: BuiltAsset) -> set[str]:
    return {name.split("/", 1)[0] for name in _names(asset)}


def test_assets_hold_only_what_each_function_imports(arm64: dict[str, BuiltAsset]) -> None:
    heavy_api = {"fastapi", "mangum", "argon2", "jwt", "starlette", "cryptography"}
    assert not heavy_api & _top_levels(arm64["ingest"])
    assert heavy_api <= _top_levels(arm64["api"])
    for name, asset in arm64.items():
        tops = _top_levels(asset)
        assert not {"boto3", "botocore", "s3transfer"} & tops, name
        assert "logsight" in tops
        names = _names(asset)
        assert asset.function.asset_path in names
        assert not any("/tests/" in n or n.startswith("tests/") for n in names), name
        assert not any(n.startswith("logsight/local/") for n in names), name
        # Precompiled: /var/task is read-only, so a missing pyc is compiled on every cold start.
        assert any(n.endswith(".cpython-312.pyc") for n in names)
    assert any(
        n.startswith("logsight/storage/migrations/") and n.endswith(".sql")
        for n in _names(arm64["deploy"])
    )
    assert any("aarch64" in n for n in _names(arm64["ingest"]) if n.endswith(".so"))
    # /api/docs serves Swagger UI from the api's own package (logsight.api.docs), nowhere else.
    swagger = "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js"
    assert swagger in _names(arm64["api"])
    assert swagger not in _names(arm64["ingest"])


def test_asset_sizes(arm64: dict[str, BuiltAsset]) -> None:
    for name, asset in arm64.items():
        size = asset.zip_bytes
        assert size <= LAMBDA_ZIP_LIMIT
        with zipfile.ZipFile(asset.zip_path) as archive:
            assert sum(i.file_size for i in archive.infolist()) <= LAMBDA_UNZIPPED_LIMIT
        assert size <= CEILINGS_MB[name] * 1024 * 1024, f"{name}: {size / 1e6:.1f} MB"


def test_unchanged_inputs_do_not_rebuild(arm64: dict[str, BuiltAsset]) -> None:
    again = build_function(FUNCTIONS["alerts"], "arm64")
    assert not again.rebuilt
    assert again.zip_path.read_bytes() == arm64["alerts"].zip_path.read_bytes()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_handler_imports_from_a_clean_directory(
    name: str, native: dict[str, BuiltAsset], tmp_path: Path
) -> None:
    asset = native[name]
    with zipfile.ZipFile(asset.zip_path) as archive:
        archive.extractall(tmp_path)
    module, _, attribute = asset.function.handler.rpartition(".")
    code = (
        "import importlib, sys\n"
        f"handler = getattr(importlib.import_module({module!r}), {attribute!r})\n"
        "assert callable(handler)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'mangum', 'jwt', 'argon2')]\n"
        f"assert {name!r} != 'ingest' or not bad, bad\n"
    )
    # -I: isolated (no user site, no PYTHON* variables, no cwd); -S: not even the virtualenv's
    # site-packages. The asset directory is all there is, as on Lambda (boto3 aside).
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
