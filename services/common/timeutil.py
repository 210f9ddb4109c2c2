"""Conversions between protobuf Timestamps, unix seconds, datetimes and the API's ISO strings."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


def now() -> float:
    return time.time()


def to_timestamp(seconds: float) -> Timestamp:
    ts = Timestamp()
    whole = int(seconds // 1)
    ts.seconds, ts.nanos = whole, int(round((seconds - whole) * 1e9)) % 1_000_000_000
    return ts


def from_timestamp(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


def iso(seconds: float | None) -> str | None:
    """ISO 8601 UTC with `Z`, milliseconds only when present."""
    if seconds is None:
        return None
    dt = datetime.fromtimestamp(seconds, UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond // 1000:03d}"
    return text + "Z"


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
