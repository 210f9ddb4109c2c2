"""The time conversions catalog answers with (services/common/timeutil.py): every time a Timestamp
holds converts both ways and shows as ISO 8601; no other does."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _iso_by_datetime(seconds: float) -> str:
    """What iso showed when datetime made it: the reference for the arithmetic that replaced it."""
    from datetime import UTC, datetime
    dt = datetime.fromtimestamp(seconds, UTC)
    text = dt.replace(tzinfo=None, microsecond=0).isoformat()
    if dt.microsecond:
        text += f".{dt.microsecond // 1000:03d}"
    return text + "Z"


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.floats(EARLIEST, LATEST + 0.99), st.integers(EARLIEST, LATEST).map(float),
                 st.integers(-10**9, 10**9).map(lambda k: k / 1e6 * 1.0),
                 st.integers(-2 * 10**9, 2 * 10**9).map(lambda k: k + 0.5e-6)))
def test_iso_shows_what_datetime_shows(seconds):
    assert iso(seconds) == _iso_by_datetime(seconds)


@pytest.mark.parametrize("seconds", [-0.0000005, -0.0000015, 0.0000005, 0.0000015, -1e-12, 0.9999995,
                                     -62135596800.0, 253402300799.9999, 1_800_000_000.0005])
def test_iso_rounds_microseconds_as_datetime_does(seconds):
    assert iso(seconds) == _iso_by_datetime(seconds)


@pytest.mark.parametrize("seconds", [LATEST + 1, LATEST + 0.9999996, EARLIEST - 0.5,
                                     math.nan, math.inf, -math.inf])
def test_iso_of_a_time_no_string_shows_is_a_value_error(seconds):
    with pytest.raises(ValueError):
        iso(seconds)
