"""Shared pieces: paths, result records, statistics."""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
AMQP_BASE = "amqp://guest:guest@127.0.0.1:5672"

Direction = Literal[">=", "<="]


@dataclass
class Result:
    """One measured number, optionally with its goal and the raw limit it is compared with."""

    section: str
    name: str
    value: float
    unit: str
    goal: float | None = None
    direction: Direction = ">="
    raw_name: str | None = None
    raw_value: float | None = None
    note: str = ""
    extra: dict[str, float | str] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        if self.direction == ">=":
            return self.value >= self.goal
        return self.value <= self.goal

    @property
    def ratio(self) -> float | None:
        if self.raw_value is None or self.raw_value == 0:
            return None
        return self.value / self.raw_value


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100 * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def fmt_number(value: float, digits: int = 0) -> str:
    if math.isnan(value):
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)
