"""Season lengths from the step and the length of the history.

Natural cycles are the hour (only for steps under 5 minutes), the day, the week and the year (only
for steps of a day or more). A cycle becomes a season of `round(cycle / step)` steps when that is
at least 2 and within 1 % of a whole number (a 17-minute step still gets a daily season of 85
steps; 52 weeks or 12 months of 31 days stand for a year, within 2.5 %).
Only seasons the history supports are used: at least `MIN_CYCLES` full cycles, at most
`MAX_SEASON` steps. Examples: hourly 24 and 168 (168 once there are two weeks); 5-minute 288 and,
with 4 weeks of history, 2016; minute 60 and 1440; daily 7 and 365; weekly 52; monthly 12.
"""
from __future__ import annotations

HOUR, DAY, WEEK, YEAR = 3600.0, 86400.0, 604800.0, 365.25 * 86400.0
MIN_CYCLES = 2
MAX_SEASON = 10_080  # a week of minutes; longer seasons cost too much to decompose
_TOLERANCE = 0.01
_YEAR_TOLERANCE = 0.025


def natural_seasons(step_seconds: float) -> list[int]:
    """Every season the step suggests, shortest first, regardless of history length."""
    cycles = [DAY, WEEK]
    if step_seconds < 300:
        cycles.insert(0, HOUR)
    if step_seconds >= DAY:  # a yearly cycle only for daily, weekly, monthly... data
        cycles.append(YEAR)
    out: list[int] = []
    for cycle in cycles:
        ratio = cycle / step_seconds
        m = round(ratio)
        # calendar months vary (28 to 31 days), so the year is matched more loosely
        tolerance = _YEAR_TOLERANCE if cycle == YEAR else _TOLERANCE
        if m >= 2 and abs(ratio - m) <= tolerance * ratio and m <= MAX_SEASON and m not in out:
            out.append(m)
    return out


def choose_seasons(step_seconds: float, n_points: int) -> list[int]:
    """The natural seasons with at least MIN_CYCLES full cycles in `n_points`, shortest first."""
    return [m for m in natural_seasons(step_seconds) if n_points >= MIN_CYCLES * m]
