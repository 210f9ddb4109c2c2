"""Rules for an ingested point, with the per-point messages of the contract (in the words of
Anomify's list where it has one). Pure: no I/O.

`check_point` holds the rules every caller meets (REST and gRPC alike); `parse_json_point`
turns one JSON object into a checked point, adding the shape and type rules of JSON input.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from services.common.time_window import accepted_window
from services.common.timeutil import MAX_NANOS, iso, parse_iso

# Used with fullmatch: with `match`, `$` also matches before a final "\n". Anchored all the same,
# since the OpenAPI document gives the pattern to clients (where `$` is the end).
METRIC_NAME = re.compile(r"^[A-Za-z0-9._\-:/]+$")
MAX_NAME, MAX_TAGS, MAX_TAG_TEXT, MAX_SOURCE = 255, 32, 255, 255
POINT_FIELDS = ("metric", "value", "timestamp", "tags", "source")


class CheckedPoint(NamedTuple):  # a tuple: one is made per point, and cheaply
    metric: str
    value: float
    ts: float
    tags: dict[str, str]
    source: str = ""


class PointError(ValueError):
    """A point breaks a rule; the message is what the client is told."""


def check_metric(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise PointError("invalid metric" if name in (None, "") else f"invalid metric - {_shown(name)}")
    if len(name) > MAX_NAME:
        raise PointError(f"invalid metric - {name} - longer than {MAX_NAME} characters")
    if not METRIC_NAME.fullmatch(name):
        raise PointError(f"invalid metric - {name} - invalid characters in name")
    return name


def _shown(value: Any) -> str:
    """A value as the client wrote it in JSON (true, null, NaN, ["a"]; not Python's True, None, nan,
    ['a']); a string as it is."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def check_value(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PointError(f"invalid value - {_shown(value)}")
    try:
        number = float(value)
    except OverflowError as error:  # an integer too large for a double
        raise PointError(f"invalid value - {_shown(value)}") from error
    if not math.isfinite(number):
        raise PointError(f"invalid value - {_shown(value)}")
    return number


def check_time(ts: float, shown: Any, now: float, retention_seconds: float) -> float:
    """`shown`: how the message names the time (None: its ISO form, made only for a message)."""
    earliest, latest = accepted_window(now, retention_seconds)
    if math.isfinite(ts) and earliest <= ts <= latest:
        return ts
    if shown is None:
        shown = _iso_or_number(ts)
    if not math.isfinite(ts):
        raise PointError(f"invalid timestamp - {shown}")
    if ts > latest:
        raise PointError(f"invalid timestamp - {shown} - timestamp is more than 1 minute in the future")
    raise PointError(f"invalid timestamp - {shown} - timestamp is too old, older than "
                     f"{int(retention_seconds)} seconds")


def check_nanos(nanos: int) -> None:
    """A protobuf Timestamp's nanos lie in [0, 999999999] (its own rule); others are no time."""
    if not 0 <= nanos <= MAX_NANOS:
        raise PointError(f"invalid timestamp - nanos {nanos} - must be 0 to {MAX_NANOS}")


def _iso_or_number(ts: float) -> Any:
    """The time as ISO 8601 for a message, or the number where no calendar date reaches it."""
    try:
        return iso(ts)
    except (ValueError, OverflowError, OSError):
        return ts


def storable(text: str) -> bool:
    # JSON may carry lone surrogates (\ud800) that no UTF-8 store or protobuf string accepts, and
    # NUL, which no PostgreSQL text accepts.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise PointError("invalid tags - tags must be an object of string keys to string values")
    if len(tags) > MAX_TAGS:
        raise PointError(f"invalid tags - at most {MAX_TAGS} tags, got {len(tags)}")
    clean: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_TAG_TEXT or not storable(key):
            shown = key if isinstance(key, str) and storable(key) else ascii(key)
            raise PointError(f"invalid tag - {shown} - tag keys must be 1-{MAX_TAG_TEXT} characters of valid "
                             "UTF-8 without NUL")
        if not isinstance(value, str):
            raise PointError(f"invalid tag - {key} - tag values must be strings, got {type(value).__name__}")
        if len(value) > MAX_TAG_TEXT:
            raise PointError(f"invalid tag - {key} - value longer than {MAX_TAG_TEXT} characters")
        if not storable(value):
            raise PointError(f"invalid tag - {key} - value is not valid UTF-8 without NUL")
        clean[key] = value
    return clean


def check_source(source: Any) -> str:
    if source is None:
        return ""
    if not isinstance(source, str) or len(source) > MAX_SOURCE or not storable(source):
        raise PointError(f"invalid source - must be a string of at most {MAX_SOURCE} characters "
                         "of valid UTF-8 without NUL")
    return source


def check_point(metric: Any, value: Any, ts: float, tags: Any, source: Any, now: float,
                retention_seconds: float, shown_time: Any = None) -> CheckedPoint:
    """The rules for every caller; `ts` is already unix seconds, `shown_time` the client's own
    spelling of it for messages."""
    name = check_metric(metric)
    number = check_value(value)
    when = check_time(ts, shown_time, now, retention_seconds)
    return CheckedPoint(name, number, when, check_tags(tags), check_source(source))


def parse_timestamp(raw: Any, integers_only: bool = False) -> float:
    """Unix seconds of an ISO 8601 string or a unix number (seconds)."""
    if raw is None or raw == "":
        raise PointError("invalid timestamp")
    if isinstance(raw, bool):
        raise PointError(f"invalid timestamp - {raw}")
    if integers_only and not isinstance(raw, int):
        raise PointError(f"invalid timestamp - {raw} - timestamp is not an int")
    if isinstance(raw, int | float):
        try:
            seconds = float(raw)
        except OverflowError:  # an integer beyond any double
            seconds = math.inf
        if not math.isfinite(seconds) or seconds < 0:
            raise PointError(f"invalid timestamp - {raw} - timestamp is not a valid current unix timestamp")
        return seconds
    if isinstance(raw, str):
        try:
            return parse_iso(raw)
        except (ValueError, OverflowError) as error:
            raise PointError(f"invalid timestamp - {raw}") from error
    raise PointError(f"invalid timestamp - {raw}")


def parse_json_point(obj: Any, now: float, retention_seconds: float,
                     integer_timestamps: bool = False) -> CheckedPoint:
    """One point of a JSON body; raises PointError with the client's message."""
    if not isinstance(obj, Mapping):
        raise PointError("invalid metrics element")
    for name in obj:
        if name not in POINT_FIELDS:
            raise PointError(f"Invalid parameter received - {name}")
    if "value" not in obj:
        check_metric(obj.get("metric"))
        raise PointError("no value parameter present")
    check_metric(obj.get("metric"))
    check_value(obj["value"])
    ts = parse_timestamp(obj.get("timestamp"), integer_timestamps)
    return check_point(obj.get("metric"), obj["value"], ts, obj.get("tags"), obj.get("source"),
                       now, retention_seconds, shown_time=obj.get("timestamp"))
