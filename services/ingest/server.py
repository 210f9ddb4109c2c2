"""The ingest process: the front door for data."""
from __future__ import annotations

import sys

import grpc

from anomalywatch.catalog.v1 import storage_pb2_grpc
from anomalywatch.ingest.v1 import ingest_pb2
from services.common.auth import PrincipalCache
from services.common.channels import open_channel
from services.common.config import Settings, load_settings
from services.common.grpc_server import ServiceSpec, run
from services.common.remote_auth import remote_lookup
from services.ingest.detect_router import DetectRouter
from services.ingest.pipeline import IngestPipeline
from services.ingest.servicer import IngestServicer, add_to_server

SERVICE_NAMES = (ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name,)
MAX_WORKERS = 32  # threads serving calls (bench.load builds its gRPC ceiling with the same)


def build_spec(settings: Settings, catalog: grpc.Channel | None = None,
               detect: list[grpc.Channel] | None = None) -> ServiceSpec:
    catalog = catalog or open_channel(settings.catalog_addr, settings)
    detect = detect or [open_channel(a, settings) for a in settings.detect_addrs]
    storage = storage_pb2_grpc.StorageServiceStub(catalog)
    principals = PrincipalCache(remote_lookup(catalog, settings.rpc_timeout_seconds),
                                ttl=settings.key_cache_seconds)
    pipeline = IngestPipeline(storage, DetectRouter(detect, settings.rpc_timeout_seconds),
                              settings.retention_seconds, settings.rpc_timeout_seconds,
                              write_lanes=settings.ingest_write_lanes)

    def register(server) -> None:
        add_to_server(IngestServicer(pipeline, principals, storage, settings.rpc_timeout_seconds), server)

    return ServiceSpec(name="ingest", register=register, service_names=SERVICE_NAMES, max_workers=MAX_WORKERS)


def main() -> int:
    settings = load_settings()
    return run(build_spec(settings), settings, settings.ingest_addr)


if __name__ == "__main__":
    sys.exit(main())
