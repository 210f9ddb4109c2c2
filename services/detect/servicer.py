"""DetectService over gRPC (thin: request and shard checks, then the shard scores)."""
from __future__ import annotations

from anomalywatch.detect.v1 import detect_pb2, detect_pb2_grpc
from services.common.columns import check_columns
from services.common.errors import ServiceError
from services.common.sharding import shard_of
from services.common.time_window import accepted_window
from services.detect.shard import Shard

MAX_POINTS = 5000
# Ingest judged each time by its own clock when it stored the point; detect may see the point
# later (ingest re-sends while a shard restarts), on a host whose clock differs a little.
DELIVERY_SLACK = 3600.0


class DetectServicer(detect_pb2_grpc.DetectServiceServicer):
    def __init__(self, shard: Shard, retention_seconds: float):
        self.shard, self.retention = shard, retention_seconds

    def ScorePoints(self, request, context):
        check_columns(len(request.series), request.series_index, request.times, request.values, MAX_POINTS)
        self._check_times(request.times)
        names = [s.metric_id for s in request.series]
        if len(set(names)) != len(names):
            raise ServiceError("VALIDATION_ERROR", "each series once", {"field": "series"})
        foreign = next((sid for sid in names
                        if shard_of(sid, self.shard.shard_count) != self.shard.shard_index), None)
        if foreign is not None:
            raise ServiceError("WRONG_SHARD", f"series {foreign} belongs to another shard",
                               {"metric_id": foreign, "shard_index": self.shard.shard_index})
        return self.shard.score_points(request)

    def _check_times(self, times) -> None:
        """Every time within the window ingest accepts: one far ahead would stop its series from
        scoring (later points would be 'already scored'), and one no Timestamp holds could never
        be recorded in catalog."""
        if not times:
            return
        earliest, latest = accepted_window(self.shard.clock(), self.retention, DELIVERY_SLACK)
        if earliest <= min(times) and max(times) <= latest:
            return
        i = next(i for i, ts in enumerate(times) if not earliest <= ts <= latest)
        raise ServiceError("VALIDATION_ERROR", f"times[{i}] = {times[i]!r} is outside the accepted window "
                           f"[{earliest:.0f}, {latest:.0f}] (unix seconds)", {"field": "times", "index": i})

    def GetShardInfo(self, request, context):
        return detect_pb2.GetShardInfoResponse(
            shard_index=self.shard.shard_index, shard_count=self.shard.shard_count,
            series_count=len(self.shard.engine.series_ids()), points_scored=self.shard.points_scored)
