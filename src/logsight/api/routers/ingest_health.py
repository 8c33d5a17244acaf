"""Ingest health: where a project's events went — stored, refused by a quota, dropped or not
stored, dead-lettered — and how full the queues are. The first place to look when events do
not show up."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from logsight.api.buckets import Buckets, BucketsPublic
from logsight.api.deps import CurrentAccess, Services
from logsight.api.routers.events import QUERY_RESPONSES
from logsight.api.routers.stats import OutcomePublic
from logsight.query import dead_letters as dead_letter_queries
from logsight.query import outcomes as outcome_queries
from logsight.query import read_only
from logsight.query import stats as stat_queries
from logsight.queue.depth import QueueDepth, queue_names
from logsight.storage.outcomes import RATE_LIMITED
from logsight.tenancy.access import Role

router = APIRouter(
    prefix="/projects/{project_id}/ingest", tags=["ingest health"], responses=QUERY_RESPONSES
)


class CountSeries(BaseModel):
    total: int
    values: list[int] = Field(description="One value per bucket, zeros included.")


class OutcomeSeriesPublic(OutcomePublic):
    """An outcome as in GET .../stats/outcomes, per bucket too."""

    values: list[int] = Field(description="One value per bucket, zeros included.")

    model_config = ConfigDict(from_attributes=True)


class DeadLetterReason(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reason: str
    letters: int = Field(description="Letters with this reason, of any age.")
    in_range: int = Field(description="Of them, recorded within [from, to).")
    waiting: int = Field(
        description="Not sent back since they were recorded (scheduled for the automatic "
        "re-drive, or waiting for a replay by hand)."
    )
    latest_at: datetime


class DeadLetterHealth(BaseModel):
    total: int = Field(description="Every dead letter of the project.")
    reasons: list[DeadLetterReason] = Field(
        description=f"The {dead_letter_queries.TOP_REASONS} most frequent reasons; "
        "GET .../dead-letters lists the letters themselves."
    )


class QueuePublic(BaseModel):
    name: str
    messages: int | None = Field(
        description="Messages waiting for the consumer (its lag); null: no such queue."
    )
    consumers: int | None


class QueueHealth(BaseModel):
    readable: bool = Field(
        description="False when the broker could not be asked from here (the counts are null)."
    )
    queues: list[QueuePublic] = Field(
        description="Every shard queue, then the dead-letter queue. The queues are shared by "
        "every project of the installation."
    )
    waiting: int | None = Field(description="Messages waiting in the shard queues.")


class IngestHealth(BucketsPublic):
    accepted: CountSeries = Field(
        description="Events stored, by their timestamp (the statistics' rollups)."
    )
    rate_limited: CountSeries = Field(
        description="Events refused by a quota (429), by the minute they were refused."
    )
    outcomes: list[OutcomeSeriesPublic] = Field(
        description="Everything not stored, by outcome, category and reason, by received time "
        "(the rate-limited events included)."
    )
    dead_letters: DeadLetterHealth | None = Field(
        description="Null unless you are an admin: letters hold what clients sent."
    )
    queue: QueueHealth


@router.get(
    "/health",
    response_model=IngestHealth,
    summary="Accepted, refused and dead-lettered events over time, and the queues",
    description=(
        "Over [from, to): `from` defaults to `range` (else 24 hours) before `to` (default: "
        "now); buckets as for the statistics time series (zeros included). Refusals are "
        "written by ingest within about a second; queue counts are read from the broker at "
        "most every few seconds, and are null when the broker cannot be reached from the API."
    ),
)
def ingest_health(
    project_id: UUID,
    access: CurrentAccess,
    services: Services,
    time: Buckets,
) -> IngestHealth:
    project = access.project(project_id)
    admin = Role(project["role"]).at_least(Role.ADMIN)
    edges = time.edges
    with read_only(access.conn):
        stored = stat_queries.timeseries(access.conn, project_id, edges, bucket=time.bucket)
        outcomes = outcome_queries.series(access.conn, project_id, edges)
        letters = (
            dead_letter_queries.by_reason(access.conn, project_id, edges[0], edges[-1])
            if admin
            else None
        )
    accepted = stored.series[0].values
    limited = [0] * (len(edges) - 1)
    for s in outcomes:
        if s.outcome == RATE_LIMITED:
            limited = [a + b for a, b in zip(limited, s.values, strict=True)]
    depths = services.queue_depths.get()
    readable = depths is not None
    if depths is None:
        depths = [QueueDepth(name, None, None) for name in queue_names(services.settings)]
    shards = [d for d in depths if d.name != services.settings.dead_letter_queue]
    return IngestHealth(
        **time.public(),
        accepted=CountSeries(total=sum(accepted), values=accepted),
        rate_limited=CountSeries(total=sum(limited), values=limited),
        outcomes=[OutcomeSeriesPublic.model_validate(s) for s in outcomes],
        dead_letters=(
            DeadLetterHealth(
                total=letters[0],
                reasons=[DeadLetterReason.model_validate(r) for r in letters[1]],
            )
            if letters is not None
            else None
        ),
        queue=QueueHealth(
            readable=readable,
            queues=[
                QueuePublic(name=d.name, messages=d.messages, consumers=d.consumers) for d in depths
            ],
            waiting=sum(d.messages or 0 for d in shards) if readable else None,
        ),
    )
