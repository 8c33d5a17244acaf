"""The four functions as the local runtime sees them: handler, timeout, concurrency."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logsight.function_timeouts import TIMEOUT_SECONDS

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    handler_path: str  # "module:function"
    timeout_seconds: float

    def load(self) -> Handler:
        module_name, _, attribute = self.handler_path.partition(":")
        handler: Handler = getattr(importlib.import_module(module_name), attribute)
        return handler


def _spec(name: str) -> FunctionSpec:
    return FunctionSpec(
        f"logsight-{name}", f"functions.{name}.handler:handler", TIMEOUT_SECONDS[name]
    )


INGEST = _spec("ingest")
PROCESSOR = _spec("processor")
API = _spec("api")
ALERTS = _spec("alerts")
