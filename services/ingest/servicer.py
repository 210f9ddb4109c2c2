"""IngestService over gRPC: authenticate, then hand the batch to the pipeline."""
from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import message, message_factory

from anomalywatch.catalog.v1 import storage_pb2, storage_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from anomalywatch.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from services.common.auth import PrincipalCache
from services.common.errors import ServiceError, from_rpc_error
from services.ingest.pipeline import IngestPipeline

_ENV = {"live": common_pb2.ENVIRONMENT_LIVE, "test": common_pb2.ENVIRONMENT_TEST}
SERVICE = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"]


class Undecodable:
    """The request of a call whose bytes are no message of its type (corrupt wire format, a string
    that is not UTF-8): refused with INVALID_ARGUMENT once the caller is authenticated, where gRPC's
    own deserializer fails the call with INTERNAL."""

    def __init__(self, type_name: str, reason: str):
        self.type_name, self.reason = type_name, reason


def lenient(message_type: type[message.Message]):
    def parse(data: bytes) -> Any:
        try:
            return message_type.FromString(data)
        except message.DecodeError as error:
            # protobuf's message names the type again: "Error parsing message with type '...': why"
            return Undecodable(message_type.DESCRIPTOR.full_name, str(error).rpartition("': ")[2])
    return parse


def decoded(request: Any) -> Any:
    if isinstance(request, Undecodable):
        raise ServiceError("VALIDATION_ERROR", f"the request is not a valid {request.type_name}: "
                           f"{request.reason}", {"field": "request"})
    return request


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, pipeline: IngestPipeline, principals: PrincipalCache,
                 storage: storage_pb2_grpc.StorageServiceStub, timeout: float):
        self.pipeline, self.principals, self.storage, self.timeout = pipeline, principals, storage, timeout

    def Ingest(self, request, context):
        principal = self.principals.from_context(context, "ingest")
        request = decoded(request)
        return self.pipeline.ingest(principal, request.points, request.test_only, request.all_or_nothing)

    def ListTestPosts(self, request, context):
        principal = self.principals.from_context(context, "ingest")
        request = decoded(request)
        scope = common_pb2.Scope(account_id=principal.account_id, environment=_ENV[principal.environment])
        try:
            found = self.storage.ListTestPosts(
                storage_pb2.ListTestPostsRequest(scope=scope, page=request.page), timeout=self.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return ingest_pb2.ListTestPostsResponse(
            posts=[ingest_pb2.TestPost(metric=p.metric, count=p.count, last_post_time=p.last_post_time)
                   for p in found.posts], page=found.page)


def add_to_server(servicer: IngestServicer, server: grpc.Server) -> None:
    """As the generated add_IngestServiceServicer_to_server, with requests decoded by `lenient`."""
    handlers = {
        m.name: grpc.unary_unary_rpc_method_handler(
            getattr(servicer, m.name),
            request_deserializer=lenient(message_factory.GetMessageClass(m.input_type)),
            response_serializer=message_factory.GetMessageClass(m.output_type).SerializeToString)
        for m in SERVICE.methods}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),))
    server.add_registered_method_handlers(SERVICE.full_name, handlers)
