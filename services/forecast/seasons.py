"""Season lengths from the step and the length of the history.

Natural cycles are the hour (only for steps under 5 minutes), the day, the week and the year. A
cycle becomes a season of `round(cycle / step)` steps when that is at least 2 and within 2 % of a
whole number (a 17-minute step still gets a daily season of 85 steps; 52 weeks stand for a year).
Only seasons the history supports are used: at least `MIN_CYCLES` full cycles, at most
`MAX_SEASON` steps. Examples: hourly 24 and 168 (168 once there are two weeks); 5-minute 288 and,
with 4 weeks of history, 2016; minute 60 and 1440; daily 7 and 365; weekly 52; monthly 12.
"""
from __future__ import annotations

HOUR, DAY, WEEK, YEAR = 3600.0, 86400.0, 604800.0, 365.25 * 86400.0
MIN_CYCLES = 2
MAX_SEASON = 10_080  # a week of minutes; longer seasons cost too much to decompose
_TOLERANCE = 0.02


def natural_seasons(step_seconds: float) -> list[int]:
    """Every season the step suggests, shortest first, regardless of history length."""
    cycles = [DAY, WEEK, YEAR]
    if step_seconds < 300:
        cycles.insert(0, HOUR)
    out: list[int] = []
    for cycle in cycles:
        ratio = cycle / step_seconds
        m = round(ratio)
        if m >= 2 and abs(ratio - m) <= _TOLERANCE * ratio and m <= MAX_SEASON and m not in out:
            out.append(m)
    return out


def choose_seasons(step_seconds: float, n_points: int) -> list[int]:
    """The natural seasons with at least MIN_CYCLES full cycles in `n_points`, shortest first."""
    return [m for m in natural_seasons(step_seconds) if n_points >= MIN_CYCLES * m]
