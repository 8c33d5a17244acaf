"""The time parameters of bucketed reads (widget data, ingest health): a range ending now by
default, buckets chosen and aligned as for the statistics time series, and the answer's
description of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends
from pydantic import BaseModel, Field

from logsight.api.routers.stats import FromParam, TimeParam, TzParam
from logsight.dashboard_schema import RangePreset
from logsight.query.timerange import Bucket, bucket_edges, choose_bucket, request_range, zone


@dataclass(frozen=True, slots=True)
class BucketedRange:
    bucket: Bucket
    tz: str
    zone: ZoneInfo
    edges: list[datetime]  # UTC; len(buckets) + 1

    def public(self) -> dict[str, Any]:
        """BucketsPublic's fields."""
        return {
            "bucket": self.bucket,
            "tz": self.tz,
            "from_": self.edges[0].astimezone(self.zone),
            "to": self.edges[-1].astimezone(self.zone),
            "buckets": [edge.astimezone(self.zone) for edge in self.edges[:-1]],
        }


def bucketed_range(
    from_: FromParam = None,
    to: TimeParam = None,
    range: RangePreset | None = None,
    tz: TzParam = "UTC",
    bucket: Bucket | None = None,
) -> BucketedRange:
    """[from, to): ``to`` defaults to now, ``from`` to ``range`` (else 24 hours) before it."""
    zone_info = zone(tz)
    start, end = request_range(from_, to, zone_info, (range or RangePreset.DAY).length)
    chosen = bucket or choose_bucket(start, end)
    return BucketedRange(chosen, tz, zone_info, bucket_edges(start, end, chosen, zone_info))


Buckets = Annotated[BucketedRange, Depends(bucketed_range)]


class BucketsPublic(BaseModel):
    bucket: Bucket
    tz: str
    from_: datetime = Field(alias="from", description="Start of the first bucket.")
    to: datetime = Field(description="End of the last bucket.")
    buckets: list[datetime] = Field(description="Start of each bucket, in `tz`.")

    model_config = {"populate_by_name": True}
