"""The interval a series reports at: the running mean of its first gaps, then smoothed so one long
outage moves it only a little."""
from __future__ import annotations

WARM_GAPS = 10  # the gaps whose running mean is a series' step
# A series' silence is an outage only once it has shown its pace by this many gaps: after one gap
# alone, its next (e.g. 5 minutes after two points sent a second apart) would be one.
GAPS_BEFORE_STALE = 2


def update_step(step: float, gap: float, gaps_seen: int) -> float:
    """The step after one more gap between consecutive points, `step` being what `gaps_seen` gaps
    made it. A series' first gaps set it by their running mean: its first gap alone says little
    (two points sent together at the start are a second apart, and a step grown from 1 s by at most
    1.9x a point took a dozen points to reach 5 minutes, every gap a false missing_data outage).
    Later gaps move it a tenth of the way, each counting at most 10 steps."""
    if gap <= 0:
        return step
    if step <= 0 or gaps_seen <= 0:
        return gap
    if gaps_seen < WARM_GAPS:
        return step + (gap - step) / (gaps_seen + 1)
    return step + 0.1 * (min(gap, 10 * step) - step)


def stale_after(step_seconds: float) -> float:
    """A series is stale when silent for more than 3 of its steps, and never sooner than 60 s."""
    return max(3 * step_seconds, 60.0)
