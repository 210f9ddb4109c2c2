"""Ingest over gRPC refuses each bad point alone, with its message, and stores nothing of it;
a batch it cannot take at all is VALIDATION_ERROR, never INTERNAL. A fake catalog and detect."""
from __future__ import annotations

import math

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from anomalywatch.catalog.v1 import metrics_pb2, storage_pb2
from anomalywatch.ingest.v1 import ingest_pb2
from services.common.auth import Principal
from services.common.errors import ServiceError
from services.ingest.detect_router import Verdicts
from services.ingest.pipeline import IngestPipeline

NOW = 1_800_000_000.0
PRINCIPAL = Principal("key_1", "acct_1", "live", frozenset({"ingest"}), "pro")


class Catalog:
    """Stores every point it is sent, and remembers them."""

    def __init__(self):
        self.stored = []

    def WritePoints(self, request, timeout):  # noqa: N802 - the gRPC method name
        self.stored += [request.series[j].metric for j in request.series_index]
        return storage_pb2.WritePointsResponse(
            outcomes=[storage_pb2.WRITE_OUTCOME_STORED] * len(request.times),
            series=[storage_pb2.SeriesWritten(metric_id=f"met_{j}", config=metrics_pb2.AnomalyConfig())
                    for j in range(len(request.series))])


class Detect:
    def score(self, points):
        return Verdicts.unscored(len(points))


def at(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def ingest(points):
    catalog = Catalog()
    pipeline = IngestPipeline(catalog, Detect(), retention_seconds=86400.0, timeout=5.0, clock=lambda: NOW)
    return pipeline.ingest(PRINCIPAL, points, test_only=False), catalog.stored


GOOD = ingest_pb2.Point(metric="m", value=1.0, time=at(int(NOW)))
BAD = [
    (ingest_pb2.Point(metric="cpu\n", value=1.0, time=at(int(NOW))),
     "invalid metric - cpu\n - invalid characters in name"),
    (ingest_pb2.Point(metric="cpü", value=1.0, time=at(int(NOW))),
     "invalid metric - cpü - invalid characters in name"),
    (ingest_pb2.Point(metric="", value=1.0, time=at(int(NOW))), "invalid metric"),
    (ingest_pb2.Point(metric="m", value=math.nan, time=at(int(NOW))), "invalid value - NaN"),
    (ingest_pb2.Point(metric="m", value=-math.inf, time=at(int(NOW))), "invalid value - -Infinity"),
    (ingest_pb2.Point(metric="m", value=1.0), "invalid timestamp"),
    (ingest_pb2.Point(metric="m", value=1.0, time=at(-5)),
     "invalid timestamp - 1969-12-31T23:59:55Z - timestamp is too old, older than 86400 seconds"),
    (ingest_pb2.Point(metric="m", value=1.0, time=at(2**63 - 1)),
     f"invalid timestamp - {float(2**63 - 1)} - timestamp is more than 1 minute in the future"),
    (ingest_pb2.Point(metric="m", value=1.0, time=at(int(NOW), -1)),
     "invalid timestamp - nanos -1 - must be 0 to 999999999"),
    (ingest_pb2.Point(metric="m", value=1.0, time=at(int(NOW)), tags={"k": "v\x00"}),
     "invalid tag - k - value is not valid UTF-8 without NUL"),
    (ingest_pb2.Point(metric="m", value=1.0, time=at(int(NOW)), tags={f"k{i}": "v" for i in range(33)}),
     "invalid tags - at most 32 tags, got 33"),
]


@pytest.mark.parametrize("point,error", BAD)
def test_a_bad_point_is_refused_alone_with_its_message(point, error):
    answer, stored = ingest([point, GOOD])
    assert [(r.status, r.error) for r in answer.results] == [
        (ingest_pb2.POINT_STATUS_REJECTED, error), (ingest_pb2.POINT_STATUS_INGESTED, "")]
    assert (answer.accepted, answer.rejected, stored) == (1, 1, ["m"])


def test_the_largest_finite_value_and_unicode_tags_are_stored():
    point = ingest_pb2.Point(metric="m", value=-1.7976931348623157e308, time=at(int(NOW)),
                             tags={"région": "Zürich ☃"})
    answer, stored = ingest([point])
    assert answer.results[0].status == ingest_pb2.POINT_STATUS_INGESTED and stored == ["m"]


@pytest.mark.parametrize("n", [0, 501])
def test_an_empty_or_oversized_batch_is_a_validation_error(n):
    with pytest.raises(ServiceError) as refused:
        ingest([GOOD] * n)
    assert refused.value.code == "VALIDATION_ERROR"
