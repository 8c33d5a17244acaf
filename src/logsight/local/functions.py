"""The four functions as the local runtime sees them: handler, timeout, concurrency."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


INGEST = FunctionSpec("logsight-ingest", "functions.ingest.handler:handler", 10)
PROCESSOR = FunctionSpec("logsight-processor", "functions.processor.handler:handler", 120)
API = FunctionSpec("logsight-api", "functions.api.handler:handler", 29)
ALERTS = FunctionSpec("logsight-alerts", "functions.alerts.handler:handler", 60)
