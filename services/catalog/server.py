"""The catalog process: the system of record, the only one that talks to the database."""
from __future__ import annotations

import sys

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
from services.catalog.account_servicer import AccountServicer, lookup_principal
from services.catalog.anomaly_servicer import AnomalyServicer, RuleServicer
from services.catalog.db import Database, migrate
from services.catalog.metric_servicer import MetricServicer
from services.catalog.operator_auth import OperatorGate
from services.catalog.retention import RetentionTimer
from services.catalog.storage_servicer import StorageServicer
from services.catalog.transient import RetryTransientInterceptor
from services.common.auth import PrincipalCache
from services.common.config import Settings, load_settings
from services.common.grpc_server import ServiceSpec, run
from services.common.telemetry import setup_tracing

SERVICE_NAMES = (
    accounts_pb2.DESCRIPTOR.services_by_name["AccountService"].full_name,
    metrics_pb2.DESCRIPTOR.services_by_name["MetricService"].full_name,
    storage_pb2.DESCRIPTOR.services_by_name["StorageService"].full_name,
    anomalies_pb2.DESCRIPTOR.services_by_name["AnomalyService"].full_name,
    anomalies_pb2.DESCRIPTOR.services_by_name["RuleService"].full_name,
)


def build_spec(settings: Settings, db: Database) -> ServiceSpec:
    """The catalog's servicers on `db` (already migrated)."""
    principals = PrincipalCache(lookup_principal(db), ttl=settings.key_cache_seconds)

    def register(server) -> None:
        accounts_pb2_grpc.add_AccountServiceServicer_to_server(
            AccountServicer(db, principals, set(settings.plans),
                            operators=OperatorGate(settings.operator_token)), server)
        metrics_pb2_grpc.add_MetricServiceServicer_to_server(
            MetricServicer(db, principals, settings.retention_seconds), server)
        storage_pb2_grpc.add_StorageServiceServicer_to_server(StorageServicer(db, settings.plan), server)
        anomalies_pb2_grpc.add_AnomalyServiceServicer_to_server(AnomalyServicer(db, principals), server)
        anomalies_pb2_grpc.add_RuleServiceServicer_to_server(RuleServicer(db, principals), server)

    return ServiceSpec(name="catalog", register=register, service_names=SERVICE_NAMES, max_workers=32,
                       interceptors=(RetryTransientInterceptor(),))


def main() -> int:
    settings = load_settings()
    migrate(settings.database_url)
    # before the engines: they are instrumented only where spans are recorded (run() would be late)
    setup_tracing("catalog", settings.otel_exporter)
    db = Database(settings.database_url)
    retention = RetentionTimer(db, settings.retention_seconds)
    spec = build_spec(settings, db)
    spec.warm_up = retention.start

    def stop() -> None:
        retention.stop()
        db.dispose()

    spec.on_stop = stop
    return run(spec, settings, settings.catalog_addr)


if __name__ == "__main__":
    sys.exit(main())
