"""Between the detect protos and the engine: configs, and engine verdicts as Detection messages."""
from __future__ import annotations

import logging
from functools import lru_cache

from anomalywatch.catalog.v1 import metrics_pb2, storage_pb2
from anomalywatch.common.v1 import common_pb2
from services.common.durations import parse_duration
from services.common.timeutil import to_timestamp
from services.detect import codes
from services.detect.engine import DetectorConfig, ScoreBatch

log = logging.getLogger(__name__)

SEVERITY = (common_pb2.SEVERITY_UNSPECIFIED, common_pb2.SEVERITY_INFO, common_pb2.SEVERITY_WARNING,
            common_pb2.SEVERITY_CRITICAL)
TYPE = (common_pb2.ANOMALY_TYPE_UNSPECIFIED, common_pb2.ANOMALY_TYPE_SPIKE, common_pb2.ANOMALY_TYPE_DROP,
        common_pb2.ANOMALY_TYPE_TREND, common_pb2.ANOMALY_TYPE_LEVEL_SHIFT)
EVENT = {codes.EVENT_NONE: storage_pb2.EPISODE_EVENT_UNSPECIFIED,
         codes.EVENT_OPEN: storage_pb2.EPISODE_EVENT_OPEN,
         codes.EVENT_CONTINUE: storage_pb2.EPISODE_EVENT_CONTINUE,
         codes.EVENT_QUIET: storage_pb2.EPISODE_EVENT_QUIET,
         codes.EVENT_CLOSE: storage_pb2.EPISODE_EVENT_CLOSE}


def detector_config(config: metrics_pb2.AnomalyConfig) -> DetectorConfig:
    return _cached(config.SerializeToString(deterministic=True))


_CONFIG_FIELDS = ("enabled", "spike_threshold", "drop_threshold", "min_data_points", "comparison_window",
                  "sensitivity", "seasonality")


@lru_cache(maxsize=4096)
def _cached(serialized: bytes) -> DetectorConfig:
    """The engine's config of a stored one. A field the engine cannot use (catalog should have
    refused it) falls back to its default with a warning, once per distinct config. Refusing the
    call instead would leave its points unscored, with every other series' points of the batch,
    and each later call would carry the same stored config again."""
    config = metrics_pb2.AnomalyConfig.FromString(serialized)
    chosen = {}
    for name in _CONFIG_FIELDS:
        if not config.HasField(name):
            continue
        raw = getattr(config, name)
        try:
            target, value = _engine_field(name, raw)
            DetectorConfig(**{target: value})  # the field's own rules, the others at their defaults
        except ValueError as error:
            log.warning("unusable anomaly_config field, its default is used",
                        extra={"field": name, "value": repr(raw)[:80], "reason": str(error)})
            continue
        chosen[target] = value
    return DetectorConfig(**chosen)


def _engine_field(name: str, raw: object) -> tuple[str, object]:
    """The DetectorConfig field and value of a stored AnomalyConfig field."""
    if name == "comparison_window":
        return "comparison_window_seconds", parse_duration(raw)
    return name, raw


def detection(series_id: str, ts: float, value: float, batch: ScoreBatch, i: int) -> storage_pb2.Detection:
    """Point i of a scored batch as catalog's Detection."""
    message = storage_pb2.Detection(
        metric_id=series_id, time=to_timestamp(ts), value=value, score=float(batch.score[i]),
        severity=SEVERITY[int(batch.severity[i])], type=TYPE[int(batch.type[i])],
        baseline=common_pb2.Baseline(mean=float(batch.mean[i]), std=float(batch.std[i])),
        expected_range=common_pb2.ExpectedRange(lower=float(batch.lower[i]), upper=float(batch.upper[i])),
        event=EVENT[int(batch.episode_event[i])])
    if int(batch.episode_event[i]) == codes.EVENT_CLOSE:
        message.end_time.CopyFrom(to_timestamp(float(batch.episode_end_ts[i])))
    return message


def missing_data(series_id: str, ts: float, value: float, event: int) -> storage_pb2.Detection:
    """A staleness episode opening (event OPEN, at the time it was noticed) or closing (CLOSE, at
    the time data returned)."""
    message = storage_pb2.Detection(metric_id=series_id, time=to_timestamp(ts), value=value,
                                    severity=common_pb2.SEVERITY_WARNING,
                                    type=common_pb2.ANOMALY_TYPE_MISSING_DATA, event=event)
    if event == storage_pb2.EPISODE_EVENT_CLOSE:
        message.end_time.CopyFrom(to_timestamp(ts))
    return message
