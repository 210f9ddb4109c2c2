"""The one check of a columnar batch (catalog's WritePoints, detect's ScorePoints): each series
once in `series`, then per point its series' position, time and value in packed arrays."""
from __future__ import annotations

import math
from collections.abc import Sequence

from services.common.errors import ServiceError
from services.common.timeutil import EARLIEST, LATEST, representable


def check_columns(series_count: int, series_index: Sequence[int], times: Sequence[float],
                  values: Sequence[float], most: int) -> None:
    """The columns agree in length, point at a series and hold finite numbers, the times ones a
    Timestamp holds: ingest checked the points, but a caller that did not must not reach the store
    or the engine (a stored time no Timestamp holds fails every later read of its series)."""
    n = len(series_index)
    if n > most:
        raise ServiceError("VALIDATION_ERROR", f"at most {most} points per call", {"field": "series_index"})
    if len(times) != n or len(values) != n:
        raise ServiceError("VALIDATION_ERROR", "series_index, times and values must have equal lengths",
                           {"field": "times"})
    if n and not 0 <= min(series_index) <= max(series_index) < series_count:
        raise ServiceError("VALIDATION_ERROR", "series_index must point into series",
                           {"field": "series_index"})
    if not all(map(math.isfinite, times)) or not all(map(math.isfinite, values)):
        raise ServiceError("VALIDATION_ERROR", "times and values must be finite", {"field": "values"})
    if n and not (representable(min(times)) and representable(max(times))):
        raise ServiceError("VALIDATION_ERROR", f"times must be unix seconds from {EARLIEST} (0001-01-01) to "
                           f"{LATEST} (9999-12-31)", {"field": "times"})
