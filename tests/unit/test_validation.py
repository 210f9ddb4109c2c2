"""Every per-point rule of ingest and its message."""
from __future__ import annotations

import math

import pytest

from services.ingest.validation import PointError, parse_json_point

NOW = 1_800_000_000.0
RETENTION = 30 * 86400.0


def parse(obj, integer_timestamps=False):
    return parse_json_point(obj, NOW, RETENTION, integer_timestamps)


def message(obj, **kw) -> str:
    with pytest.raises(PointError) as caught:
        parse(obj, **kw)
    return str(caught.value)


def test_a_good_point_is_parsed_with_its_tags_and_source():
    p = parse({"metric": "api.requests:5xx/total", "value": 3, "timestamp": "2027-01-15T08:00:00Z",
               "tags": {"host": "a", "région": "eu"}, "source": "agent"})
    assert (p.metric, p.value, p.tags, p.source) == \
        ("api.requests:5xx/total", 3.0, {"host": "a", "région": "eu"}, "agent")
    assert p.ts == pytest.approx(1_799_913_600.0) or p.ts > 0


@pytest.mark.parametrize("ts", [NOW, int(NOW), "2027-01-15T08:00:00", "2027-01-15 08:00:00Z",
                                "2027-01-15T09:00:00+01:00"])
def test_timestamps_in_iso_with_or_without_zone_and_unix_seconds(ts):
    point = parse({"metric": "m", "value": 1, "timestamp": ts})
    assert math.isfinite(point.ts)


def test_metric_rules():
    assert message({"value": 1, "timestamp": NOW}) == "invalid metric"
    assert message({"metric": "", "value": 1, "timestamp": NOW}) == "invalid metric"
    assert message({"metric": 12, "value": 1, "timestamp": NOW}) == "invalid metric - 12"
    assert message({"metric": ["a"], "value": 1, "timestamp": NOW}) == 'invalid metric - ["a"]'
    assert message({"metric": True, "value": 1, "timestamp": NOW}) == "invalid metric - true"
    assert message({"metric": "cpu usage", "value": 1, "timestamp": NOW}) == \
        "invalid metric - cpu usage - invalid characters in name"
    assert message({"metric": "cpü", "value": 1, "timestamp": NOW}) == \
        "invalid metric - cpü - invalid characters in name"
    long = "m" * 256
    assert message({"metric": long, "value": 1, "timestamp": NOW}) == \
        f"invalid metric - {long} - longer than 255 characters"
    assert parse({"metric": "m" * 255, "value": 1, "timestamp": NOW}).metric == "m" * 255


@pytest.mark.parametrize("value,shown", [(float("nan"), "NaN"), (float("inf"), "Infinity"), ("12", "12"),
                                         (True, "true"), (None, "null"), ([1], "[1]"),
                                         ({"a": "b"}, '{"a": "b"}'),
                                         (10**400, str(10**400))])
def test_value_must_be_a_finite_number(value, shown):
    assert message({"metric": "m", "value": value, "timestamp": NOW}) == f"invalid value - {shown}"


def test_missing_value():
    assert message({"metric": "m", "timestamp": NOW}) == "no value parameter present"


def test_timestamp_rules():
    assert message({"metric": "m", "value": 1}) == "invalid timestamp"
    assert message({"metric": "m", "value": 1, "timestamp": "yesterday"}) == "invalid timestamp - yesterday"
    assert message({"metric": "m", "value": 1, "timestamp": NOW + 61}) == \
        f"invalid timestamp - {NOW + 61} - timestamp is more than 1 minute in the future"
    assert parse({"metric": "m", "value": 1, "timestamp": NOW + 59}).ts == NOW + 59
    old = NOW - RETENTION - 1
    assert message({"metric": "m", "value": 1, "timestamp": old}) == \
        f"invalid timestamp - {old} - timestamp is too old, older than {int(RETENTION)} seconds"
    assert message({"metric": "m", "value": 1, "timestamp": -5}) == \
        "invalid timestamp - -5 - timestamp is not a valid current unix timestamp"


def test_integer_timestamps_for_the_anomify_endpoint():
    assert message({"metric": "m", "value": 1, "timestamp": NOW + 0.5}, integer_timestamps=True) == \
        f"invalid timestamp - {NOW + 0.5} - timestamp is not an int"
    assert message({"metric": "m", "value": 1, "timestamp": "2027-01-01T00:00:00Z"},
                   integer_timestamps=True).endswith("timestamp is not an int")
    # an integer beyond any double is refused like the other unusable times, not an OverflowError
    huge = 9 * 10 ** 400
    assert message({"metric": "m", "value": 1, "timestamp": huge}, integer_timestamps=True) == \
        f"invalid timestamp - {huge} - timestamp is not a valid current unix timestamp"


def test_tag_rules():
    assert message({"metric": "m", "value": 1, "timestamp": NOW, "tags": {"port": 80}}) == \
        "invalid tag - port - tag values must be strings, got int"
    assert message({"metric": "m", "value": 1, "timestamp": NOW, "tags": ["a"]}).startswith("invalid tags - ")
    many = {f"k{i}": "v" for i in range(33)}
    assert message({"metric": "m", "value": 1, "timestamp": NOW, "tags": many}) == \
        "invalid tags - at most 32 tags, got 33"
    assert message({"metric": "m", "value": 1, "timestamp": NOW, "tags": {"k": "v" * 256}}) == \
        "invalid tag - k - value longer than 255 characters"
    assert message({"metric": "m", "value": 1, "timestamp": NOW, "tags": {"": "v"}}).startswith(
        "invalid tag -  - ")


def test_unknown_fields_and_shapes():
    assert message({"metric": "m", "value": 1, "timestamp": NOW, "unit": "ms"}) == \
        "Invalid parameter received - unit"
    assert message(["m", 1]) == "invalid metrics element"
    assert message({"metric": "m", "value": 1, "timestamp": NOW, "source": 5}).startswith("invalid source - ")


@pytest.mark.parametrize("name", ["cpu\n", "cpu\r\n", "\ncpu", "cpu\n\n", "cpu\x00", "cpu\u2028", "ｃｐｕ",
                                  "cpu١"])
def test_a_name_with_any_character_outside_the_alphabet_is_refused(name):
    # a final "\n" among them: `$` matches before it
    assert message({"metric": name, "value": 1, "timestamp": NOW}) == \
        f"invalid metric - {name} - invalid characters in name"


def test_tags_at_the_limits_of_the_contract_are_accepted():
    tags = {f"k{i:02d}".ljust(255, "k"): "v" * 255 for i in range(32)}
    tags["k00".ljust(255, "k")] = ""  # an empty value is a value
    assert parse({"metric": "m", "value": 1, "timestamp": NOW, "tags": tags}).tags == tags
    key = "k" * 256
    assert message({"metric": "m", "value": 1, "timestamp": NOW, "tags": {key: "v"}}) == \
        f"invalid tag - {key} - tag keys must be 1-255 characters of valid UTF-8 without NUL"
