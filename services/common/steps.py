"""The interval a series reports at, smoothed so one long outage moves it only a little."""
from __future__ import annotations


def update_step(step: float, gap: float) -> float:
    if gap <= 0:
        return step
    if step <= 0:
        return gap
    return step + 0.1 * (min(gap, 10 * step) - step)


def stale_after(step_seconds: float) -> float:
    """A series is stale when silent for more than 3 of its steps, and never sooner than 60 s."""
    return max(3 * step_seconds, 60.0)
