"""An ingest "environment" in its own process, for tests of limits shared between processes.

``run`` builds the real ingest service from settings (its own key cache, quota slices and
database connection, as a separate Lambda execution environment has), waits for a common start
time, then posts one-event requests from a few threads and returns what it was answered.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson

from logsight.apigw import HttpRequest
from logsight.config import Settings
from logsight.ingest.app import build_ingest_service
from tests.support.ingest import api_request


def run(
    settings: dict[str, Any], key: str, *, start_at: float, threads: int, requests: int
) -> list[tuple[int, str | None, Any]]:
    """(status, Retry-After, body) of every request, ``requests`` per thread."""
    service = build_ingest_service(Settings(**settings))
    answers: list[tuple[int, str | None, Any]] = []
    lock = threading.Lock()

    def post() -> None:
        for n in range(requests):
            event = api_request({"name": f"load {n}"}, key=key)
            response = service.handle(HttpRequest.from_event(event)).to_event()
            body = orjson.loads(response["body"]) if response["body"] else None
            with lock:
                answers.append(
                    (response["statusCode"], response["headers"].get("retry-after"), body)
                )

    workers = [threading.Thread(target=post) for _ in range(threads)]
    time.sleep(max(start_at - time.time(), 0))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answers
