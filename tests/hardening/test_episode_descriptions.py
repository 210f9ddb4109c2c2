"""The one human sentence of an anomaly writes its numbers as a person would."""
from __future__ import annotations

import pytest

from services.catalog import episodes
from services.catalog.models import Rule


@pytest.mark.parametrize(("value", "written"), [
    (1500.0, "1500"), (12345.0, "12345"), (10000.0, "10000"), (-25000.0, "-25000"), (3.0, "3"),
    (402.72175, "402.7"), (1234.5678, "1235"), (99999.9, "100000"), (0.012345, "0.01235"), (0.0, "0"),
    (2.5e6, "2.500e+06"), (0.00001234, "1.234e-05"),
])
def test_values_are_written_out_up_to_a_million(value, written):
    assert episodes.fmt(value) == written


def test_a_threshold_description_of_five_digit_numbers_has_no_exponent():
    rule = Rule(name="slow", operator="greater_than", threshold=10000.0)
    assert (episodes.describe_threshold("api.latency_ms", 12500.0, rule)
            == "api.latency_ms is 12500, above the threshold 10000 of rule slow")


def test_a_statistical_description_of_five_digit_numbers_has_no_exponent():
    assert (episodes.describe_statistical("api.requests", "spike", 15000.0, 4000.0)
            == "api.requests rose to 15000, 275% above its expected 4000")
