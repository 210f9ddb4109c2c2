"""DetectRouter re-sends points a shard could not take, but not points it refused: a refusal
would repeat forever and hold back every point re-sent in the same call."""
from __future__ import annotations

import grpc
import pytest

from anomalywatch.catalog.v1 import metrics_pb2
from services.ingest.columns import Columns
from services.ingest.detect_router import DetectRouter, SeriesToScore

NOW = 1_800_000_000.0


class Failure(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode):
        self._code = code

    def code(self):
        return self._code

    def details(self):
        return "refused"


class FailingShard:
    def __init__(self, code: grpc.StatusCode):
        self.code, self.calls = code, 0

    def ScorePoints(self, request, timeout):  # noqa: N802 - the gRPC method name
        self.calls += 1
        raise Failure(self.code)


def points() -> Columns:
    batch = Columns()
    j = batch.series_position("met_a", SeriesToScore("met_a", metrics_pb2.AnomalyConfig(), None))
    batch.add(j, NOW, 1.0)
    return batch


@pytest.mark.parametrize("code,resent", [(grpc.StatusCode.UNAVAILABLE, True),
                                         (grpc.StatusCode.INTERNAL, True),
                                         (grpc.StatusCode.INVALID_ARGUMENT, False)])
def test_only_points_a_shard_could_not_take_are_kept_for_a_re_send(code, resent):
    router = DetectRouter([grpc.insecure_channel("127.0.0.1:9")], timeout=1.0, retry_every=3600)
    router.stubs = [FailingShard(code)]
    verdicts = router.score(points())
    assert verdicts.scored == [False]
    assert list(router._pending) == (["met_a"] if resent else [])
