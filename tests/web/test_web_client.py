"""The dashboard's typed API client is generated from the API's OpenAPI document: when an
endpoint changes and web/src/api/schema.d.ts was not regenerated (`make web-api`), this fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

from logsight.api.app import openapi_json
from tests.support.runtime import REPO

WEB = REPO / "web"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"


def test_the_generated_api_types_match_the_api(tmp_path: Path) -> None:
    assert GENERATOR.exists(), "web/node_modules is missing: run `make web`"
    document = tmp_path / "openapi.json"
    document.write_bytes(openapi_json())
    generated = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(GENERATOR), str(document), "-o", str(generated)],
        cwd=WEB,
        check=True,
        capture_output=True,
        timeout=120,
    )
    committed = (WEB / "src" / "api" / "schema.d.ts").read_text()
    assert generated.read_text() == committed, (
        "web/src/api/schema.d.ts is stale: run `make web-api` and commit the result"
    )
