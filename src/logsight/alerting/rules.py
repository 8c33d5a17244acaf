"""Alert rule definitions: one condition model per kind, shared by the API (strict validation)
and the evaluator (which reads back what the API stored)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

Label = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventFilter(Strict):
    """Matching events; every field given must match (the rollups' dimensions)."""

    type: Label | None = Field(default=None, description="Event type: error, pageview, custom...")
    name: Label | None = None
    level: Label | None = None
    release: Label | None = None

    @property
    def empty(self) -> bool:
        return not self.model_dump(exclude_none=True)


class Threshold(Strict):
    kind: Literal["threshold"]
    metric: Literal["events", "unique_users"] = Field(
        default="events", description="Matching events, or distinct users of the project."
    )
    op: Literal["above", "below"] = "above"
    threshold: float = Field(ge=0, le=1e15)
    filter: EventFilter = Field(default_factory=EventFilter)

    @model_validator(mode="after")
    def _users_unfiltered(self) -> Threshold:
        if self.metric == "unique_users" and not self.filter.empty:
            raise ValueError("unique_users counts the whole project: filter must be empty")
        return self


class Change(Strict):
    kind: Literal["change"]
    compare_to: Literal["day", "week"] = Field(
        description="The same window one day or one week earlier."
    )
    direction: Literal["drop", "rise"]
    percent: float = Field(gt=0, le=100_000, description="Fires at this change or more.")
    min_baseline: int = Field(
        default=10, ge=1, le=2**31 - 1, description="Earlier windows with fewer events never fire."
    )
    filter: EventFilter = Field(default_factory=EventFilter)


class ErrorRate(Strict):
    kind: Literal["error_rate"]
    percent: float = Field(gt=0, le=100, description="Errors as a share of all events.")
    min_events: int = Field(default=50, ge=1, le=2**31 - 1, description="Fewer never fire.")
    release: Label | None = Field(default=None, description="Only this release's events.")
    per_release: bool = Field(
        default=False,
        description="Each release on its own: fires when any release with the minimum volume "
        "is above the rate.",
    )

    @model_validator(mode="after")
    def _one_release_or_each(self) -> ErrorRate:
        if self.per_release and self.release is not None:
            raise ValueError("per_release compares every release: release must be empty")
        return self


class NewIssue(Strict):
    kind: Literal["new_issue"]


class Regression(Strict):
    kind: Literal["regression"]
    issue_id: UUID | None = Field(
        default=None, description="Only this issue ('alert me when this comes back')."
    )


class IssueFrequency(Strict):
    kind: Literal["issue_frequency"]
    metric: Literal["events", "users"] = "events"
    threshold: int = Field(ge=1, le=2**62)
    issue_id: UUID | None = Field(default=None, description="Only this issue; else any.")


class Absence(Strict):
    kind: Literal["absence"]
    filter: EventFilter = Field(default_factory=EventFilter)


Condition = Annotated[
    Threshold | Change | ErrorRate | NewIssue | Regression | IssueFrequency | Absence,
    Field(discriminator="kind"),
]
CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)

# Kinds that report occurrences (each new or regressed issue) rather than a state that holds
# and later resolves.
OCCURRENCE_KINDS = frozenset({"new_issue", "regression"})


def parse_condition(stored: dict[str, object]) -> Condition:
    return CONDITION.validate_python(stored)
