"""The gateway's gRPC stubs and the one way it calls them: the caller's key in the metadata, a
deadline on every call, and failures translated to ServiceError."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from flask import current_app, g

from anomalywatch.catalog.v1 import accounts_pb2_grpc, anomalies_pb2_grpc, metrics_pb2_grpc
from anomalywatch.forecast.v1 import forecast_pb2_grpc
from anomalywatch.ingest.v1 import ingest_pb2_grpc
from services.common.channels import open_channel
from services.common.config import Settings
from services.common.errors import from_rpc_error


@dataclass
class Clients:
    catalog_channel: grpc.Channel
    ingest_channel: grpc.Channel
    forecast_channel: grpc.Channel
    timeout: float

    @classmethod
    def connect(cls, settings: Settings) -> Clients:
        return cls(*(open_channel(address, settings) for address in
                     (settings.catalog_addr, settings.ingest_addr, settings.forecast_addr)),
                   settings.rpc_timeout_seconds)

    def __post_init__(self) -> None:
        self.accounts = accounts_pb2_grpc.AccountServiceStub(self.catalog_channel)
        self.metrics = metrics_pb2_grpc.MetricServiceStub(self.catalog_channel)
        self.anomalies = anomalies_pb2_grpc.AnomalyServiceStub(self.catalog_channel)
        self.rules = anomalies_pb2_grpc.RuleServiceStub(self.catalog_channel)
        self.ingest = ingest_pb2_grpc.IngestServiceStub(self.ingest_channel)
        self.forecast = forecast_pb2_grpc.ForecastServiceStub(self.forecast_channel)

    def call(self, method: Callable[..., Any], request: Any, key: str | None = None,
             timeout: float | None = None) -> Any:
        metadata = (("authorization", f"Bearer {key}"),) if key else ()
        try:
            return method(request, timeout=timeout or self.timeout, metadata=metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None


def call_as_caller(stub: str, method: str, request: Any) -> Any:
    """Calls `method` of the named stub (`metrics`, `anomalies`, ...) with this request's key."""
    clients = current_app.extensions["aw"].clients
    return clients.call(getattr(getattr(clients, stub), method), request, g.api_key)
