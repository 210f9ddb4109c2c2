"""The fields of the `timestamp,value` CSVs that `replay` and `forecast` read: one reading for both."""
from __future__ import annotations

import math
import re
from datetime import UTC, datetime

# a number as CSV writers spell it: ASCII digits, no '_' separators (float() takes both, and
# any script's digits: '١٢' was read as 12)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def shown(text: str, limit: int = 40) -> str:
    """A field quoted for a message, cut short: a line of megabytes must not flood the terminal."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def parse_number(text: str) -> float:
    """The finite number a plain decimal spells (surrounding spaces allowed); ValueError otherwise."""
    s = text.strip()
    value = float(s) if _NUMBER.fullmatch(s) else math.nan
    if not math.isfinite(value):
        raise ValueError(f"invalid number {shown(text)}")
    return value


def parse_timestamp(text: str) -> float:
    """Unix seconds (int or float) or ISO 8601 (zone optional = UTC, `T` or space, date alone =
    midnight UTC) to unix seconds; ValueError otherwise."""
    s = text.strip()
    if _NUMBER.fullmatch(s):
        try:
            return parse_number(s)
        except ValueError:
            raise ValueError(f"invalid timestamp {shown(text)}") from None
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"invalid timestamp {shown(text)}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
