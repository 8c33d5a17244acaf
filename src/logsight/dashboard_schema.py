"""What a custom dashboard is: a name, a default time range and a grid of widgets, each one a
query over the project's events (what to count, which events, grouped how) and a place on a
12-column grid. Strict: unknown fields, oversized lists and impossible layouts are refused, so
what is stored always renders."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

GRID_COLUMNS = 12
MAX_ROWS = 1000
MAX_HEIGHT = 48
MAX_WIDGETS = 30
MAX_FILTER_VALUES = 20
MAX_PROPERTY_FILTERS = 10
MAX_TOP = 20

Value = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Values = Annotated[list[Value], Field(max_length=MAX_FILTER_VALUES)]
PropertyKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class RangePreset(StrEnum):
    """A range ending now."""

    MINUTES_15 = "15m"
    HOUR = "1h"
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def length(self) -> timedelta:
        return _LENGTHS[self]


_LENGTHS = {
    RangePreset.MINUTES_15: timedelta(minutes=15),
    RangePreset.HOUR: timedelta(hours=1),
    RangePreset.DAY: timedelta(hours=24),
    RangePreset.WEEK: timedelta(days=7),
    RangePreset.MONTH: timedelta(days=30),
}


class WidgetKind(StrEnum):
    TIMESERIES = "timeseries"
    BAR = "bar"
    NUMBER = "number"
    TABLE = "table"


class WidgetMetric(StrEnum):
    COUNT = "count"
    USERS = "users"


class Dimension(StrEnum):
    TYPE = "type"
    NAME = "name"
    LEVEL = "level"
    RELEASE = "release"
    ENVIRONMENT = "environment"
    PROPERTY = "property"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PropertyFilter(Strict):
    key: PropertyKey = Field(description="A top-level key of the event's properties.")
    values: Annotated[list[Value], Field(min_length=1, max_length=MAX_FILTER_VALUES)] = Field(
        description="Any of these, compared with the property's JSON value as text."
    )


class WidgetFilters(Strict):
    """Which events count; lists mean any of, different fields must all match."""

    type: Values = Field(default_factory=list)
    name: Values = Field(default_factory=list)
    level: Values = Field(default_factory=list)
    environment: Values = Field(default_factory=list)
    release: Values = Field(default_factory=list)
    properties: Annotated[list[PropertyFilter], Field(max_length=MAX_PROPERTY_FILTERS)] = Field(
        default_factory=list
    )

    @field_validator("properties")
    @classmethod
    def _one_filter_per_key(cls, value: list[PropertyFilter]) -> list[PropertyFilter]:
        keys = [p.key for p in value]
        if len(set(keys)) != len(keys):
            raise ValueError("each property key may appear once; list its values together")
        return value


class WidgetGroupBy(Strict):
    by: Dimension
    key: PropertyKey | None = Field(
        default=None, description="The property key, with by=property (and only then)."
    )

    @model_validator(mode="after")
    def _key_with_property(self) -> Self:
        if (self.by is Dimension.PROPERTY) != (self.key is not None):
            raise ValueError("key is required with by=property and not allowed otherwise")
        return self


class WidgetQuery(Strict):
    """What a widget shows: evaluated by GET /api/projects/{id}/dashboards/query."""

    metric: WidgetMetric = WidgetMetric.COUNT
    filters: WidgetFilters = Field(default_factory=WidgetFilters)
    group_by: WidgetGroupBy | None = None
    top: int = Field(default=5, ge=1, le=MAX_TOP, description="Groups shown; the rest summed.")


class Layout(Strict):
    """A place on the grid: column x (0-11) and row y, w columns wide and h rows high."""

    x: int = Field(ge=0, lt=GRID_COLUMNS)
    y: int = Field(ge=0, le=MAX_ROWS)
    w: int = Field(ge=1, le=GRID_COLUMNS)
    h: int = Field(ge=1, le=MAX_HEIGHT)

    @model_validator(mode="after")
    def _inside_the_grid(self) -> Self:
        if self.x + self.w > GRID_COLUMNS:
            raise ValueError(f"x + w must be at most {GRID_COLUMNS}")
        return self


class Widget(WidgetQuery):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")] = Field(
        description="The widget's key within its dashboard (chosen by the client)."
    )
    title: Annotated[str, StringConstraints(max_length=100)] = ""
    kind: WidgetKind
    range: RangePreset | None = Field(
        default=None, description="Its own range; null: the dashboard's."
    )
    layout: Layout

    @model_validator(mode="after")
    def _a_number_is_one_value(self) -> Self:
        if self.kind is WidgetKind.NUMBER and self.group_by is not None:
            raise ValueError("a number widget shows one value: it cannot be grouped")
        return self


class DashboardDefinition(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    range: RangePreset = RangePreset.DAY
    widgets: Annotated[list[Widget], Field(max_length=MAX_WIDGETS)] = Field(default_factory=list)

    @field_validator("widgets")
    @classmethod
    def _widget_ids_are_unique(cls, value: list[Widget]) -> list[Widget]:
        ids = [w.id for w in value]
        if len(set(ids)) != len(ids):
            raise ValueError("widget ids must be unique within a dashboard")
        return value
