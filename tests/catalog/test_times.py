"""The time conversions catalog answers with (services/common/timeutil.py): every time a Timestamp
holds converts both ways and shows as ISO 8601; no other does."""
from __future__ import annotations

import math

import pytest

from services.common.timeutil import EARLIEST, LATEST, from_timestamp, iso, to_timestamp


@pytest.mark.parametrize(("seconds", "whole", "nanos"), [
    (1.9999999999, 2, 0), (0.5, 0, 500_000_000), (-0.5, -1, 500_000_000), (-1e-10, 0, 0),
    (EARLIEST, EARLIEST, 0), (LATEST, LATEST, 0)])
def test_to_timestamp_keeps_nanos_in_range_and_carries_a_rounded_second(seconds, whole, nanos):
    ts = to_timestamp(seconds)
    assert (ts.seconds, ts.nanos) == (whole, nanos)
    assert from_timestamp(ts) == pytest.approx(seconds, abs=1e-9)


@pytest.mark.parametrize("seconds", [LATEST + 1, EARLIEST - 1, 1e300, -1e300, 9.3e18, math.nan, math.inf])
def test_a_time_no_timestamp_holds_is_a_value_error(seconds):
    with pytest.raises(ValueError):
        to_timestamp(seconds)


def test_iso_shows_four_digit_years_at_both_ends():
    assert iso(EARLIEST) == "0001-01-01T00:00:00Z"
    assert iso(LATEST) == "9999-12-31T23:59:59Z"
    assert iso(1_800_000_000.25) == "2027-01-15T08:00:00.250Z"
