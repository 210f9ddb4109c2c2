"""A stored anomaly_config the engine cannot use (catalog should have refused it) does not fail
the scoring call: each unusable field falls back to its default, with a warning, and the
config's other fields still apply."""
from __future__ import annotations

import logging
import math

import pytest

from anomalywatch.catalog.v1 import metrics_pb2
from anomalywatch.detect.v1 import detect_pb2
from services.detect.conversions import detector_config
from services.detect.engine import DetectionEngine, DetectorConfig
from services.detect.servicer import DetectServicer
from services.detect.shard import Shard

NOW = 1_800_000_000.0
DEFAULT = DetectorConfig.default()
# fields every case also sets, validly: they must survive the fallback of the bad one
KEPT = {"enabled": False, "min_data_points": 10}

BAD = [("comparison_window", "garbage"), ("comparison_window", "0s"), ("comparison_window", ""),
       ("comparison_window", "30m"), ("comparison_window", "1" + "0" * 400 + "d"),
       ("spike_threshold", math.nan), ("spike_threshold", 0.5), ("drop_threshold", math.nan),
       ("drop_threshold", 1.5), ("drop_threshold", -math.inf), ("min_data_points", -5),
       ("sensitivity", "extreme"), ("sensitivity", ""), ("seasonality", "hourly")]
ENGINE_NAME = {"comparison_window": "comparison_window_seconds"}


@pytest.mark.parametrize("field,value", BAD)
def test_an_unusable_field_falls_back_to_its_default_and_the_others_apply(field, value, caplog):
    config = metrics_pb2.AnomalyConfig(**{**KEPT, field: value})
    with caplog.at_level(logging.WARNING, logger="services.detect.conversions"):
        engine_config = detector_config(config)
    name = ENGINE_NAME.get(field, field)
    assert getattr(engine_config, name) == getattr(DEFAULT, name)
    assert all(getattr(engine_config, k) == v for k, v in KEPT.items() if k != field)
    assert [r.field for r in caplog.records] == [field]


def test_usable_fields_are_taken_as_given():
    config = metrics_pb2.AnomalyConfig(enabled=True, spike_threshold=5.0, drop_threshold=0.1,
                                       min_data_points=20, comparison_window="24h", sensitivity="HIGH",
                                       seasonality="daily")
    assert detector_config(config) == DetectorConfig(True, 5.0, 0.1, 20, 86400.0, "HIGH", "daily")
    assert detector_config(metrics_pb2.AnomalyConfig()) == DEFAULT


class NoCatalog:
    def __getattr__(self, name):
        raise AssertionError(f"catalog.{name} was called")


def test_a_batch_with_a_bad_config_is_scored_whole():
    shard = Shard(DetectionEngine(), NoCatalog(), 0, 1, 5.0, clock=lambda: NOW)
    shard.ready = True
    bad = metrics_pb2.AnomalyConfig(comparison_window="garbage", spike_threshold=math.nan)
    request = detect_pb2.ScorePointsRequest(
        series=[detect_pb2.SeriesToScore(metric_id="met_bad", config=bad),
                detect_pb2.SeriesToScore(metric_id="met_good", config=metrics_pb2.AnomalyConfig())],
        series_index=[0, 1, 0, 1], times=[NOW - 60, NOW - 60, NOW, NOW], values=[1.0, 2.0, 1.0, 2.0])
    answer = DetectServicer(shard, 30 * 86400.0).ScorePoints(request, None)
    assert list(answer.scored) == [True] * 4 and all(answer.learning)
