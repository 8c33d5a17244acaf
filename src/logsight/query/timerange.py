"""Time ranges: bucket widths, buckets aligned in a time zone, and covering a range with the
coarsest rollup grains that fit exactly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logsight.errors import ApiError

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Rollup buckets are aligned on this origin (UTC midnight), like time_bucket's.
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)

# A request's range: 24 hours unless it says otherwise, at most ten years (nothing is kept
# longer; it also keeps a summary's previous-period arithmetic within datetime's limits).
DEFAULT_RANGE = timedelta(hours=24)
MAX_RANGE = timedelta(days=3660)
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200

# The auto-chosen bucket gives at most this many points; an explicit one at most MAX_BUCKETS.
TARGET_BUCKETS = 200
MAX_BUCKETS = 1500


class Bucket(StrEnum):
    MINUTE = "1m"
    FIVE_MINUTES = "5m"
    HOUR = "1h"
    DAY = "1d"

    @property
    def nominal(self) -> timedelta:
        """The width (a day bucket is 23 or 25 hours on daylight-saving changes)."""
        return _WIDTHS[self]


_WIDTHS = {
    Bucket.MINUTE: MINUTE,
    Bucket.FIVE_MINUTES: timedelta(minutes=5),
    Bucket.HOUR: HOUR,
    Bucket.DAY: DAY,
}


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ApiError(422, "invalid_field", f"unknown time zone {name!r}", "query.tz") from exc


def aware(value: datetime, tz: ZoneInfo) -> datetime:
    """Naive times are read in ``tz``; everything is returned in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def floor_to(value: datetime, width: timedelta) -> datetime:
    return value - (value - ORIGIN) % width


def ceil_to(value: datetime, width: timedelta) -> datetime:
    floored = floor_to(value, width)
    return floored if floored == value else floored + width


def choose_bucket(start: datetime, end: datetime) -> Bucket:
    """The finest bucket that gives at most TARGET_BUCKETS points."""
    span = end - start
    for bucket in Bucket:
        if span / bucket.nominal <= TARGET_BUCKETS:
            return bucket
    return Bucket.DAY


def _local_floor(value: datetime, width: timedelta, tz: ZoneInfo) -> datetime:
    """Floor ``value`` to a multiple of ``width`` in local time (for widths up to an hour)."""
    offset = value.astimezone(tz).utcoffset() or timedelta(0)
    local = value + offset
    return local - (local - ORIGIN) % width - offset


def bucket_edges(start: datetime, end: datetime, bucket: Bucket, tz: ZoneInfo) -> list[datetime]:
    """Edges (UTC) of the buckets covering [start, end): len(buckets) + 1 values.

    Minute and hour buckets have a fixed width and start on local minute/hour boundaries (so
    in zones with half-hour offsets an hour bucket starts at :30 UTC). Day buckets are the
    local calendar days, 23 or 25 hours long when the clocks change.
    """
    edges: list[datetime] = []
    if bucket is Bucket.DAY:
        day = start.astimezone(tz).date()
        while True:
            edge = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
            edges.append(edge)
            if edge >= end:
                break
            day += DAY
            if len(edges) > MAX_BUCKETS + 1:
                break
    else:
        width = bucket.nominal
        edge = _local_floor(start, width, tz)
        while True:
            edges.append(edge)
            if edge >= end or len(edges) > MAX_BUCKETS + 1:
                break
            edge += width
    if len(edges) - 1 > MAX_BUCKETS:
        raise ApiError(
            422,
            "too_many_buckets",
            f"more than {MAX_BUCKETS} buckets of {bucket.value}; choose a wider bucket",
            "query.bucket",
        )
    if len(edges) == 1:
        edges.append(edges[0] + bucket.nominal)
    return edges


def aligned(edges: list[datetime], width: timedelta) -> bool:
    return all((edge - ORIGIN) % width == timedelta(0) for edge in edges)


@dataclass(frozen=True, slots=True)
class Cover:
    """[start, end) split into whole UTC days, whole hours and the minutes at either end.

    Each list holds half-open (from, to) intervals. A rollup grain answers exactly for the
    intervals it is given, so counts from the parts add up and sketches merge.
    """

    days: list[tuple[datetime, datetime]]
    hours: list[tuple[datetime, datetime]]
    minutes: list[tuple[datetime, datetime]]


def cover(start: datetime, end: datetime, *, use_days: bool = True) -> Cover:
    """Cover minute-aligned [start, end) with the coarsest grains (days only if ``use_days``)."""
    days: list[tuple[datetime, datetime]] = []
    hours: list[tuple[datetime, datetime]] = []
    minutes: list[tuple[datetime, datetime]] = []

    def split(a: datetime, b: datetime, width: timedelta) -> tuple[datetime, datetime] | None:
        inner_a, inner_b = ceil_to(a, width), floor_to(b, width)
        return (inner_a, inner_b) if inner_a < inner_b else None

    hour_part = split(start, end, HOUR)
    if hour_part is None:
        minutes.append((start, end))
    else:
        if start < hour_part[0]:
            minutes.append((start, hour_part[0]))
        if hour_part[1] < end:
            minutes.append((hour_part[1], end))
        day_part = split(*hour_part, DAY) if use_days else None
        if day_part is None:
            hours.append(hour_part)
        else:
            days.append(day_part)
            if hour_part[0] < day_part[0]:
                hours.append((hour_part[0], day_part[0]))
            if day_part[1] < hour_part[1]:
                hours.append((day_part[1], hour_part[1]))
    return Cover(days, hours, minutes)


def minute_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Widen [start, end) to whole minutes: rollups cannot split a minute."""
    if end <= start:
        raise ApiError(422, "invalid_field", "'to' must be after 'from'", "query.to")
    return floor_to(start, MINUTE), ceil_to(end, MINUTE)


def request_range(
    from_: datetime | None,
    to: datetime | None,
    tz: ZoneInfo,
    default: timedelta = DEFAULT_RANGE,
) -> tuple[datetime, datetime]:
    """[from, to) of a request in UTC: ``to`` defaults to now and ``from`` to ``default``
    before it; a range that is empty, too long or outside the calendar we keep is a 422 naming
    the query parameter."""
    end = aware(to, tz) if to is not None else datetime.now(tz)
    start = aware(from_, tz) if from_ is not None else end - default
    if end <= start:
        raise ApiError(422, "invalid_field", "'to' must be after 'from'", "query.to")
    if end - start > MAX_RANGE:
        raise ApiError(
            422, "invalid_field", f"the range may span at most {MAX_RANGE.days} days", "query.from"
        )
    if start.year < EARLIEST_YEAR or end.year > LATEST_YEAR:
        raise ApiError(
            422,
            "invalid_field",
            f"times must lie between {EARLIEST_YEAR} and {LATEST_YEAR}",
            "query.from" if start.year < EARLIEST_YEAR else "query.to",
        )
    return start, end
