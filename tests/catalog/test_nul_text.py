"""Text holding NUL through the catalog server as it runs (its servicers and interceptor): stored
text is refused on both databases, and a look-up by such an id or name is not found or refused,
never INTERNAL (PostgreSQL's driver will not send the text)."""
from __future__ import annotations

import grpc
import pytest

from anomalywatch.catalog.v1 import (
    accounts_pb2,
    accounts_pb2_grpc,
    anomalies_pb2,
    anomalies_pb2_grpc,
    metrics_pb2,
    metrics_pb2_grpc,
    storage_pb2,
    storage_pb2_grpc,
)
from anomalywatch.common.v1 import common_pb2
from services.catalog.server import build_spec
from services.common.config import load_settings
from services.common.errors import from_rpc_error
from services.common.grpc_server import create_server

from .conftest import T0

NUL = "a\x00b"
REFUSED_OR_MISSING = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}


@pytest.fixture
def catalog(db, seed):
    """(stubs by service, key metadata, account id, an anomaly id) of a running catalog."""
    server, port, _ = create_server(build_spec(load_settings({}), db), "127.0.0.1:0")
    server.start()
    scope = seed.scope()
    anomaly_id = seed.anomaly(scope, seed.series(scope))
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stubs = {"accounts": accounts_pb2_grpc.AccountServiceStub(channel),
                 "anomalies": anomalies_pb2_grpc.AnomalyServiceStub(channel),
                 "rules": anomalies_pb2_grpc.RuleServiceStub(channel),
                 "metrics": metrics_pb2_grpc.MetricServiceStub(channel),
                 "storage": storage_pb2_grpc.StorageServiceStub(channel)}
        key = stubs["accounts"].CreateApiKey(accounts_pb2.CreateApiKeyRequest(
            account_id=scope.account_id, scopes=["admin", "read", "write"],
            environment=common_pb2.ENVIRONMENT_LIVE, operator=True), timeout=10).key
        yield stubs, (("authorization", f"Bearer {key}"),), scope.account_id, anomaly_id
    server.stop(None).wait()


def call(catalog, service: str, method: str, request) -> grpc.StatusCode:
    stubs, metadata, _, _ = catalog
    try:
        getattr(stubs[service], method)(request, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        assert from_rpc_error(error).code != "INTERNAL_ERROR", error.details()
        return error.code()
    return grpc.StatusCode.OK


LOOKUPS = [
    ("accounts", "RevokeApiKey", lambda a: accounts_pb2.RevokeApiKeyRequest(key_id=f"key_{NUL}")),
    ("accounts", "ListApiKeys", lambda a: accounts_pb2.ListApiKeysRequest(account_id=NUL, operator=True)),
    ("anomalies", "GetAnomaly", lambda a: anomalies_pb2.GetAnomalyRequest(anomaly_id=f"anom_{NUL}")),
    ("anomalies", "ListAnomalies", lambda a: anomalies_pb2.ListAnomaliesRequest(metric=NUL)),
    ("anomalies", "ListAnomalies", lambda a: anomalies_pb2.ListAnomaliesRequest(metric_id=NUL)),
    ("anomalies", "ListAnomalies", lambda a: anomalies_pb2.ListAnomaliesRequest(tags={"k": NUL})),
    ("rules", "GetRule", lambda a: anomalies_pb2.GetRuleRequest(rule_id=f"rule_{NUL}")),
    ("metrics", "GetMetric", lambda a: metrics_pb2.GetMetricRequest(metric_id=f"met_{NUL}")),
    ("metrics", "ListMetrics", lambda a: metrics_pb2.ListMetricsRequest(name=NUL)),
    ("metrics", "ListMetrics", lambda a: metrics_pb2.ListMetricsRequest(tags={NUL: "v"})),
    ("metrics", "GetAnomalyConfig", lambda a: metrics_pb2.GetAnomalyConfigRequest(name_or_id=f"met_{NUL}")),
    ("storage", "ReadPoints", lambda a: storage_pb2.ReadPointsRequest(metric_id=NUL)),
    ("storage", "WritePoints", lambda a: storage_pb2.WritePointsRequest(
        scope=common_pb2.Scope(account_id=NUL, environment=common_pb2.ENVIRONMENT_LIVE),
        series=[storage_pb2.SeriesKey(metric="m")], series_index=[0], times=[T0], values=[1.0])),
    ("storage", "ApplyDetections", lambda a: storage_pb2.ApplyDetectionsRequest(
        detections=[storage_pb2.Detection(metric_id=NUL, time={"seconds": int(T0)})])),
    ("storage", "ListTestPosts", lambda a: storage_pb2.ListTestPostsRequest(
        scope=common_pb2.Scope(account_id=NUL, environment=common_pb2.ENVIRONMENT_LIVE))),
]


@pytest.mark.parametrize(("service", "method", "make"), LOOKUPS)
def test_a_look_up_by_text_with_nul_is_not_found_or_refused(catalog, service, method, make):
    assert call(catalog, service, method, make(catalog[3])) in {grpc.StatusCode.OK, *REFUSED_OR_MISSING}


STORED = [
    ("accounts", "CreateAccount", lambda a: accounts_pb2.CreateAccountRequest(name=NUL)),
    ("accounts", "CreateApiKey", lambda a: accounts_pb2.CreateApiKeyRequest(name=NUL, scopes=["read"])),
    ("anomalies", "AcknowledgeAnomaly", lambda a: anomalies_pb2.AcknowledgeAnomalyRequest(anomaly_id=a,
                                                                                           note=NUL)),
    ("anomalies", "ResolveAnomaly", lambda a: anomalies_pb2.ResolveAnomalyRequest(anomaly_id=a, note=NUL)),
]


@pytest.mark.parametrize(("service", "method", "make"), STORED)
def test_text_with_nul_to_store_is_refused_on_both_databases(catalog, service, method, make):
    assert call(catalog, service, method, make(catalog[3])) == grpc.StatusCode.INVALID_ARGUMENT
    stubs, metadata, _, anomaly_id = catalog
    anomaly = stubs["anomalies"].GetAnomaly(anomalies_pb2.GetAnomalyRequest(anomaly_id=anomaly_id),
                                           metadata=metadata, timeout=10).anomaly
    assert anomaly.status == anomalies_pb2.ANOMALY_STATUS_ACTIVE and anomaly.note == ""
