"""Conversions between protobuf Timestamps, unix seconds, datetimes and the API's ISO strings."""
from __future__ import annotations

import functools
import math
import time
from datetime import UTC, date, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from services.common.errors import ServiceError

# The times a protobuf Timestamp may hold (its own rule), here in whole seconds: 0001-01-01T00:00:00Z
# to 9999-12-31T23:59:59Z. They are the times every ISO 8601 string of ours can show too.
EARLIEST, LATEST = -62_135_596_800, 253_402_300_799
MAX_NANOS = 999_999_999


def now() -> float:
    return time.time()


def representable(seconds: float) -> bool:
    """Whether a time lies in [EARLIEST, LATEST] (never true of NaN)."""
    return EARLIEST <= seconds <= LATEST


def to_timestamp(seconds: float) -> Timestamp:
    """ValueError for a time no Timestamp holds (outside [EARLIEST, LATEST], or NaN)."""
    ts = Timestamp()
    set_timestamp(ts, seconds)
    return ts


def set_timestamp(ts: Timestamp, seconds: float) -> None:
    """Sets a Timestamp (a message's field, in place: no copy) to `seconds`; ValueError as to_timestamp."""
    if not representable(seconds):
        raise ValueError(f"{seconds!r} is not a time a Timestamp holds")
    whole = int(seconds // 1)
    nanos = round((seconds - whole) * 1e9)
    if nanos > MAX_NANOS:  # a fraction within half a nanosecond of the next second
        whole, nanos = whole + 1, 0
    ts.seconds, ts.nanos = whole, nanos


def from_timestamp(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


def checked_seconds(ts: Timestamp, field: str) -> float:
    """The seconds of a caller's Timestamp; VALIDATION_ERROR (naming `field`) unless its nanos are
    0 to MAX_NANOS and its time is representable (as a double: the last second's fractions round
    up past LATEST)."""
    seconds = from_timestamp(ts)
    if not (0 <= ts.nanos <= MAX_NANOS and representable(seconds)):
        raise ServiceError("VALIDATION_ERROR", f"{field} must be a time from 0001-01-01T00:00:00Z to "
                           f"9999-12-31T23:59:59Z, with nanos 0 to {MAX_NANOS}", {"field": field})
    return seconds


def iso(seconds: float | None) -> str | None:
    """ISO 8601 UTC with `Z`, milliseconds only when present (a fraction that rounds to a whole
    microsecond or more; shown truncated to milliseconds, as datetime.fromtimestamp rounds it).
    Computed from the day and the second of the day: datetime's conversion and formatting were
    two thirds of rendering an anomaly list. ValueError for a time no Timestamp holds."""
    if seconds is None:
        return None
    if not EARLIEST <= seconds < LATEST + 1:  # NaN neither
        raise ValueError(f"{seconds!r} is not a time an ISO 8601 string of ours shows")
    fraction, whole = math.modf(seconds)
    micro, whole = round(fraction * 1e6), int(whole)  # round half to even, as datetime does
    if micro >= 1_000_000:
        micro, whole = micro - 1_000_000, whole + 1
    elif micro < 0:
        micro, whole = micro + 1_000_000, whole - 1
    if whole > LATEST:
        raise ValueError(f"{seconds!r} rounds past {LATEST}")
    day, second = divmod(whole, 86400)
    text = f"{_iso_date(day)}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
    if micro:
        text += f".{micro // 1000:03d}"
    return text + "Z"


@functools.lru_cache(maxsize=4096)
def _iso_date(day: int) -> str:
    """The date `day` days after 1970-01-01 (strftime's %Y would drop a year's leading zeros)."""
    return (_EPOCH_DATE + timedelta(days=day)).isoformat()


_EPOCH_DATE = date(1970, 1, 1)


def iso_of(ts: Timestamp, present: bool = True) -> str | None:
    return iso(from_timestamp(ts)) if present else None


def parse_iso(text: str) -> float:
    """Seconds of an ISO 8601 date or time; no zone means UTC, a space may stand for `T`."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty timestamp")
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
