"""A series' step: the running mean of its first gaps, then a slow average that one outage moves
only a little; and when silence makes it stale."""
from __future__ import annotations

import pytest

from services.common.steps import GAPS_BEFORE_STALE, WARM_GAPS, stale_after, update_step


def steps_of(gaps: list[float]) -> list[float]:
    step, made = 0.0, []
    for seen, gap in enumerate(gaps):
        step = update_step(step, gap, seen)
        made.append(step)
    return made


def test_the_first_gaps_give_their_running_mean():
    gaps = [1.0, 300.0, 300.0, 299.0, 301.0, 300.0]
    for n, step in enumerate(steps_of(gaps), start=1):
        assert step == pytest.approx(sum(gaps[:n]) / n)


def test_a_series_whose_first_two_points_came_together_is_never_stale_at_its_own_pace():
    """Two points a second apart, then one every 5 minutes: once its silence is judged (after
    GAPS_BEFORE_STALE gaps), no gap of them is an outage."""
    steps = steps_of([1.0] + [300.0] * 30)
    assert all(300.0 <= stale_after(step) for step in steps[GAPS_BEFORE_STALE - 1:-1])


def test_once_settled_one_long_outage_moves_the_step_only_a_little():
    steps = steps_of([60.0] * WARM_GAPS + [86400.0])
    assert steps[WARM_GAPS - 1] == pytest.approx(60.0)
    assert steps[-1] == pytest.approx(60.0 + 0.1 * (600.0 - 60.0))  # a gap counts at most 10 steps


def test_an_outage_among_the_first_gaps_delays_staleness_rather_than_raising_false_ones():
    steps = steps_of([60.0, 60.0, 3600.0] + [60.0] * 60)
    assert steps[2] == pytest.approx(1240.0)
    assert steps[-1] < 65.0  # and it returns to the series' pace


@pytest.mark.parametrize("gap", [0.0, -5.0])
def test_a_gap_that_is_no_gap_changes_nothing(gap):
    assert update_step(300.0, gap, 3) == 300.0
