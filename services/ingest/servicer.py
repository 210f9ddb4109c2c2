"""IngestService over gRPC: authenticate, then hand the batch to the pipeline."""
from __future__ import annotations

import grpc

from anomalywatch.catalog.v1 import storage_pb2, storage_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from anomalywatch.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from services.common.auth import PrincipalCache
from services.common.errors import from_rpc_error
from services.ingest.pipeline import IngestPipeline

_ENV = {"live": common_pb2.ENVIRONMENT_LIVE, "test": common_pb2.ENVIRONMENT_TEST}


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, pipeline: IngestPipeline, principals: PrincipalCache,
                 storage: storage_pb2_grpc.StorageServiceStub, timeout: float):
        self.pipeline, self.principals, self.storage, self.timeout = pipeline, principals, storage, timeout

    def Ingest(self, request, context):
        principal = self.principals.from_context(context, "ingest")
        return self.pipeline.ingest(principal, request.points, request.test_only, request.all_or_nothing)

    def ListTestPosts(self, request, context):
        principal = self.principals.from_context(context, "ingest")
        scope = common_pb2.Scope(account_id=principal.account_id, environment=_ENV[principal.environment])
        try:
            found = self.storage.ListTestPosts(
                storage_pb2.ListTestPostsRequest(scope=scope, page=request.page), timeout=self.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return ingest_pb2.ListTestPostsResponse(
            posts=[ingest_pb2.TestPost(metric=p.metric, count=p.count, last_post_time=p.last_post_time)
                   for p in found.posts], page=found.page)
