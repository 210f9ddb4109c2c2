"""`/readyz` needs no key, so anyone can make the gateway ask its dependencies: it asks them all at
once (one health deadline per call when they hang), not one after another (three)."""
from __future__ import annotations

import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.config import Settings

DEPENDENCIES = 3  # catalog, ingest, forecast


class MeetingHealth(health_pb2_grpc.HealthServicer):
    """Answers SERVING only when every dependency's check is in flight together: checks made one
    after another never meet, and each times out on the gateway's side."""

    def __init__(self):
        self.barrier = threading.Barrier(DEPENDENCIES, timeout=10)

    def Check(self, request, context):
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the checks did not arrive together")
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture
def health_address():
    from concurrent.futures import ThreadPoolExecutor

    server = grpc.server(ThreadPoolExecutor(max_workers=DEPENDENCIES + 1))
    health_pb2_grpc.add_HealthServicer_to_server(MeetingHealth(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None).wait()


def test_readyz_asks_every_dependency_at_once(health_address):
    from gateway.app import create_app

    settings = Settings(catalog_addr=health_address, ingest_addr=health_address, forecast_addr=health_address)
    app = create_app(settings)
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"status": "ready", "dependencies": {
        "catalog": "serving", "ingest": "serving", "forecast": "serving"}}
