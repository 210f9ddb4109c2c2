"""The times a point may carry (API.md): not older than the retention window and at most a minute
ahead of the clock. Ingest refuses a point outside them; detect refuses a call with one."""
from __future__ import annotations

FUTURE_TOLERANCE = 60.0  # seconds a point's time may be ahead of the clock


def accepted_window(now: float, retention_seconds: float, slack: float = 0.0) -> tuple[float, float]:
    """(earliest, latest) time accepted at `now`, both inclusive, each widened by `slack` seconds
    (for a service that sees a point after ingest accepted it, maybe by another host's clock)."""
    return now - retention_seconds - slack, now + FUTURE_TOLERANCE + slack
