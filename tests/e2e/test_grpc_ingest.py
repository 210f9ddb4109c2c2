"""Internal callers use ingest over gRPC with the same key, scopes and error reasons."""
from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from anomalywatch.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from services.common.errors import from_rpc_error

pytestmark = pytest.mark.e2e


def stub(system) -> ingest_pb2_grpc.IngestServiceStub:
    return ingest_pb2_grpc.IngestServiceStub(grpc.insecure_channel(system.env["AW_INGEST_ADDR"]))


def test_grpc_ingest_with_key_metadata(system, admin):
    now = Timestamp()
    now.FromSeconds(int(time.time()) - 1)
    answer = stub(system).Ingest(ingest_pb2.IngestRequest(points=[
        ingest_pb2.Point(metric="grpc.cpu", value=0.5, time=now, tags={"host": "db-1"}),
        ingest_pb2.Point(metric="bad name", value=1, time=now)]),
        metadata=[("authorization", f"Bearer {admin[1]}")], timeout=30)
    assert [r.status for r in answer.results] == [ingest_pb2.POINT_STATUS_INGESTED,
                                                  ingest_pb2.POINT_STATUS_REJECTED]
    assert answer.results[0].metric_id.startswith("met_") and answer.results[0].learning
    assert answer.results[1].error == "invalid metric - bad name - invalid characters in name"
    assert (answer.accepted, answer.rejected) == (1, 1)


def test_timestamps_no_calendar_or_protobuf_allows_are_rejected_per_point(system, admin):
    now = int(time.time()) - 1
    times = [Timestamp(seconds=2 ** 62), Timestamp(seconds=-2 ** 62), Timestamp(seconds=now, nanos=-5),
             Timestamp(seconds=now, nanos=2_000_000_000), Timestamp(seconds=now, nanos=500)]
    answer = stub(system).Ingest(ingest_pb2.IngestRequest(points=[
        ingest_pb2.Point(metric="grpc.odd_times", value=1.0, time=t) for t in times]),
        metadata=[("authorization", f"Bearer {admin[1]}")], timeout=30)
    assert [r.status for r in answer.results] == [ingest_pb2.POINT_STATUS_REJECTED] * 4 + [
        ingest_pb2.POINT_STATUS_INGESTED]
    errors = [r.error for r in answer.results[:4]]
    assert errors[0].endswith("timestamp is more than 1 minute in the future"), errors
    assert "timestamp is too old" in errors[1], errors
    assert errors[2] == "invalid timestamp - nanos -5 - must be 0 to 999999999"
    assert errors[3] == "invalid timestamp - nanos 2000000000 - must be 0 to 999999999"
    unset = stub(system).Ingest(ingest_pb2.IngestRequest(points=[ingest_pb2.Point(metric="grpc.odd_times",
                                                                                  value=1.0)]),
                                metadata=[("authorization", f"Bearer {admin[1]}")], timeout=30)
    assert unset.results[0].error == "invalid timestamp"  # as for a JSON point without one


def test_grpc_errors_carry_the_contract_codes(system, admin):
    with pytest.raises(grpc.RpcError) as missing:
        stub(system).Ingest(ingest_pb2.IngestRequest(points=[ingest_pb2.Point(metric="m", value=1)]),
                            timeout=10)
    assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert from_rpc_error(missing.value).code == "UNAUTHORIZED"
    _, read_only = system.new_key(scopes="read", account=admin[0])
    with pytest.raises(grpc.RpcError) as forbidden:
        stub(system).Ingest(ingest_pb2.IngestRequest(points=[ingest_pb2.Point(metric="m", value=1)]),
                            metadata=[("authorization", f"Bearer {read_only}")], timeout=10)
    assert forbidden.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert from_rpc_error(forbidden.value).code == "FORBIDDEN"
    with pytest.raises(grpc.RpcError) as empty:
        stub(system).Ingest(ingest_pb2.IngestRequest(), metadata=[("authorization", f"Bearer {admin[1]}")],
                            timeout=10)
    assert from_rpc_error(empty.value).code == "VALIDATION_ERROR"


def test_reflection_and_health_are_served(system):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    channel = grpc.insecure_channel(system.env["AW_INGEST_ADDR"])
    health = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="anomalywatch.ingest.v1.IngestService"), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    responses = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert "anomalywatch.ingest.v1.IngestService" in names


def raw_ingest(system, method: str = "Ingest"):
    """A call of IngestService that sends the caller's bytes as they are."""
    channel = grpc.insecure_channel(system.env["AW_INGEST_ADDR"])
    return channel.unary_unary(f"/anomalywatch.ingest.v1.IngestService/{method}",
                               request_serializer=lambda data: data, response_deserializer=lambda data: data)


def test_a_request_that_is_no_message_is_invalid_argument_after_the_key(system, admin):
    """Bytes no IngestRequest decodes to (corrupt, or a name that is not UTF-8) failed the call with
    INTERNAL `Exception deserializing request!` and a logged traceback; now INVALID_ARGUMENT
    naming the problem, and only for a caller with a valid key (as REST checks the key first)."""
    now = Timestamp(seconds=int(time.time()) - 1)
    good = ingest_pb2.IngestRequest(points=[ingest_pb2.Point(metric="grpc.raw_ab", value=1.0, time=now)])
    not_utf8 = good.SerializeToString().replace(b"raw_ab", b"raw\xff\xfe\xfd")
    reasons = []
    for method, data in (("Ingest", b"\xff\xff\xff\xff"), ("Ingest", not_utf8),
                         ("ListTestPosts", b"\xff\xff")):
        with pytest.raises(grpc.RpcError) as bad:
            raw_ingest(system, method)(data, metadata=[("authorization", f"Bearer {admin[1]}")], timeout=10)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, bad.value)
        error = from_rpc_error(bad.value)
        assert error.code == "VALIDATION_ERROR" and error.details == {"field": "request"}
        assert error.message.startswith(f"the request is not a valid anomalywatch.ingest.v1.{method}Request")
        reasons.append(error.message)
        with pytest.raises(grpc.RpcError) as anonymous:
            raw_ingest(system, method)(data, timeout=10)
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert reasons[0].endswith(": Wire format was corrupt"), reasons
    assert reasons[1].endswith(": String field had bad UTF-8"), reasons
    answer = raw_ingest(system)(good.SerializeToString(), metadata=[("authorization", f"Bearer {admin[1]}")],
                                timeout=30)
    assert ingest_pb2.IngestResponse.FromString(answer).results[0].status == ingest_pb2.POINT_STATUS_INGESTED
