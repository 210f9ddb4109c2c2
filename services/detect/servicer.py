"""DetectService over gRPC (thin: shard checks, then the shard scores)."""
from __future__ import annotations

from anomalywatch.detect.v1 import detect_pb2, detect_pb2_grpc
from services.common.columns import check_columns
from services.common.errors import ServiceError
from services.common.sharding import shard_of
from services.detect.shard import Shard

MAX_POINTS = 5000


class DetectServicer(detect_pb2_grpc.DetectServiceServicer):
    def __init__(self, shard: Shard):
        self.shard = shard

    def ScorePoints(self, request, context):
        check_columns(len(request.series), request.series_index, request.times, request.values, MAX_POINTS)
        names = [s.metric_id for s in request.series]
        if len(set(names)) != len(names):
            raise ServiceError("VALIDATION_ERROR", "each series once", {"field": "series"})
        foreign = next((sid for sid in names
                        if shard_of(sid, self.shard.shard_count) != self.shard.shard_index), None)
        if foreign is not None:
            raise ServiceError("WRONG_SHARD", f"series {foreign} belongs to another shard",
                               {"metric_id": foreign, "shard_index": self.shard.shard_index})
        return self.shard.score_points(request)

    def GetShardInfo(self, request, context):
        return detect_pb2.GetShardInfoResponse(
            shard_index=self.shard.shard_index, shard_count=self.shard.shard_count,
            series_count=len(self.shard.engine.series_ids()), points_scored=self.shard.points_scored)
