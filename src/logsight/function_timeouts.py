"""How long each function may run, in seconds: the deployed Lambda functions' timeouts
(infra/functions.py) and the local runtime's (logsight.local.functions) are these, so a run is
cut off at the same moment in both. API Gateway stops waiting at 30 s, so the HTTP functions
(ingest, api) stay below that."""

from __future__ import annotations

from typing import Final

TIMEOUT_SECONDS: Final = {
    "ingest": 10,
    "processor": 120,
    "api": 29,
    "alerts": 60,
    # Migrations and topology at deploy time; deployed only, there is no local deploy step.
    "deploy": 300,
}
