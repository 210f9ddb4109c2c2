"""Durations written as `90s`, `30m`, `24h`, `7d`, `2w` (or plain seconds)."""
from __future__ import annotations

import math
import re

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# ASCII: \d would take any script's digits, and float() reads them ("٣d" was 3 days)
DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", re.ASCII)


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises ValueError for anything that is not a positive duration."""
    match = DURATION.fullmatch(str(text))
    if not match:
        raise ValueError(f"invalid duration {str(text)[:40]!r}: use a number with s, m, h, d or w, e.g. 7d")
    seconds = float(match.group(1)) * UNIT_SECONDS[match.group(2) or "s"]
    if not 0 < seconds < math.inf:    # hundreds of digits overflow to inf
        raise ValueError(f"invalid duration {str(text)[:40]!r}: must be positive and finite")
    return seconds
