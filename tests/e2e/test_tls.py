"""The services with TLS: every gRPC service serves it and every internal caller (ingest, detect,
forecast, the gateway, the command-line tool, `make run`'s readiness checks) dials it, trusting
AW_TLS_CA_FILE; a point ingested through REST crosses every hop and is scored."""
from __future__ import annotations

import shutil
import subprocess
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.e2e.harness import start_system

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tls_system(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate to serve")
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=anomalywatch-test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    running = start_system(tmp, f"sqlite:///{tmp}/aw.db", AW_TLS_CERT_FILE=str(cert),
                           AW_TLS_KEY_FILE=str(key), AW_TLS_CA_FILE=str(cert))
    yield running, cert.read_bytes()
    running.local.stop()


def test_a_point_crosses_every_hop_over_tls_and_is_scored(tls_system):
    system, _ = tls_system
    _, key = system.new_key()          # the command-line tool, over TLS
    api = system.session(key)
    now = time.time()
    points = [{"metric": "tls.cpu", "value": 10.0 + i % 3, "timestamp": now - 60 * (30 - i)}
              for i in range(30)]
    answer = api.post(f"{system.base_url}/v1/ingest", json={"points": points}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert all(r["scored"] for r in answer.json()["results"])       # detect was reached
    forecast = api.post(f"{system.base_url}/v1/forecast", json={"metric": "tls.cpu", "horizon": 3},
                        timeout=60)
    assert forecast.status_code == 200, forecast.text                # forecast, and its catalog reads


def test_the_services_refuse_plaintext_and_answer_tls(tls_system):
    system, roots = tls_system
    address = system.env["AW_CATALOG_ADDR"]
    request = health_pb2.HealthCheckRequest()
    with grpc.insecure_channel(address) as plain, pytest.raises(grpc.RpcError):
        health_pb2_grpc.HealthStub(plain).Check(request, timeout=3)
    credentials = grpc.ssl_channel_credentials(root_certificates=roots)
    with grpc.secure_channel(address, credentials) as secure:
        answer = health_pb2_grpc.HealthStub(secure).Check(request, timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
