"""Rate limits end to end: real gateway processes sharing one real Redis share one budget; a
gateway whose Redis is unreachable, or goes away, keeps serving and counts it; a revoked key is
refused by every gateway process within 1 s."""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from cli.local_system import Process
from tests.e2e.harness import free_port, start_system
from tests.ratelimit.conftest import redis_url_or_skip

pytestmark = [pytest.mark.e2e, pytest.mark.redis]
# A plan of the configuration whose minute is quick to use up (plans are configuration).
SMALL_PLAN = '{"small": {"per_minute": 12, "burst_per_second": 5, "max_series": 10}}'


def add_gateway(system, name: str, **env: str) -> str:
    """Starts one more `anomalywatch serve gateway` process beside the system's own, with the
    same catalog/ingest/forecast addresses; stopped with the system. Returns its base URL."""
    address = f"127.0.0.1:{free_port()}"
    process = Process(name, {"AW_GATEWAY_ADDR": address, **env}, "http", address)
    system.local.start_process(process)
    system.local.processes.append(process)
    system.local.wait_ready(process, timeout=120)
    return f"http://{address}"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A system whose gateway uses Redis, and a second gateway process on the same Redis."""
    redis_url = redis_url_or_skip()
    tmp = tmp_path_factory.mktemp("redis-system")
    system = start_system(tmp, f"sqlite:///{tmp}/aw.db", AW_REDIS_URL=redis_url, AW_PLANS=SMALL_PLAN)
    try:
        second = add_gateway(system, "gateway-2")
        yield system, [system.base_url, second]
    finally:
        system.local.stop()


def get(base_url: str, key: str, session: requests.Session | None = None) -> requests.Response:
    return (session or requests).get(f"{base_url}/v1/metrics", headers={"Authorization": f"Bearer {key}"},
                                     timeout=10)


def metric_value(base_url: str, name: str) -> float:
    text = requests.get(f"{base_url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("sixth_on", [0, 1])
def test_the_burst_is_shared_by_two_gateway_processes(shared, sixth_on):
    system, gateways = shared
    for _attempt in range(3):  # the six requests must fall within one second; retry if the host stalls
        _, key = system.new_key(scopes="read", plan="free")
        sessions = [requests.Session(), requests.Session()]
        get(gateways[0], key, sessions[0]), get(gateways[1], key, sessions[1])  # connect, authenticate
        time.sleep(1.1)  # a fresh one-second window, while the minute keeps the two warm-up hits
        started = time.monotonic()
        answers = [get(gateways[i % 2], key, sessions[i % 2]) for i in range(5)]
        answers.append(get(gateways[sixth_on], key, sessions[sixth_on]))
        if time.monotonic() - started < 0.8:
            break
    else:
        pytest.fail("could not send six requests within one second")
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    # One per-minute budget across both processes: 100 - 2 warm-up - 5.
    assert [int(a.headers["X-RateLimit-Remaining"]) for a in answers[:5]] == [97, 96, 95, 94, 93]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["X-RateLimit-Limit"] == "100"
    # After the second passes the key is served again, by either gateway.
    time.sleep(1.1)
    assert get(gateways[1 - sixth_on], key).status_code == 200


def test_the_per_minute_limit_is_shared_too(shared):
    system, gateways = shared
    _, key = system.new_key(scopes="read", plan="small")
    served = 0
    deadline = time.monotonic() + 30
    answer = None
    while time.monotonic() < deadline:  # 4 per second (under the burst), alternating gateways
        answer = get(gateways[served % 2], key)
        if answer.status_code != 200:
            break
        served += 1
        if served % 4 == 0:
            time.sleep(1.0)
    assert answer is not None and answer.status_code == 429, "the per-minute limit was never reached"
    assert served == 12
    assert answer.json()["error"]["details"]["window"] == "minute"
    assert answer.headers["X-RateLimit-Remaining"] == "0"
    assert answer.headers["X-RateLimit-Limit"] == "12"
    assert 55 <= int(answer.headers["Retry-After"]) <= 60
    assert get(gateways[served % 2 ^ 1], key).status_code == 429


def test_a_revoked_key_is_refused_by_every_gateway_process_within_one_second(shared):
    system, gateways = shared
    _, admin = system.new_key(scopes="admin,read", plan="enterprise")
    created = requests.post(f"{gateways[0]}/v1/api-keys", json={"name": "soon revoked", "scopes": ["read"]},
                            headers={"Authorization": f"Bearer {admin}"}, timeout=10)
    assert created.status_code == 201, created.text
    key, key_id = created.json()["data"]["key"], created.json()["data"]["id"]
    for _ in range(6):  # warm the key caches of both processes of both gateways
        for gateway in gateways:
            assert get(gateway, key).status_code == 200
    revoked = requests.delete(f"{gateways[1]}/v1/api-keys/{key_id}",
                              headers={"Authorization": f"Bearer {admin}"}, timeout=10)
    assert revoked.status_code == 204
    refused_by = time.monotonic() + 1.0
    time.sleep(max(0.0, refused_by - time.monotonic()))
    statuses = [get(gateway, key).status_code for _ in range(8) for gateway in gateways]  # new connections
    assert statuses == [401] * 16


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own on a free port (so it can be stopped)."""
    binary = shutil.which("redis-server")
    if binary is None:
        redis_url_or_skip()  # skip/fail with the same rule as the other Redis tests
        pytest.skip("redis-server is not installed")
    port = free_port()

    def start() -> subprocess.Popen:
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(tmp_path)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=port, socket_connect_timeout=0.5).ping()
                return server
            except redis.RedisError:
                time.sleep(0.05)
        server.kill()
        pytest.fail("private redis-server did not start")

    servers = [start()]
    yield f"redis://127.0.0.1:{port}/0", servers, start
    for server in servers:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)


def test_unreachable_redis_fails_open_and_is_counted(shared):
    system, _ = shared
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    gateway = add_gateway(system, "gateway-deadredis", AW_REDIS_URL=dead)
    _, key = system.new_key(scopes="read", plan="free")
    session = requests.Session()
    answers = [get(gateway, key, session) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].headers["X-RateLimit-Limit"] == "100"
    assert metric_value(gateway, "aw_ratelimit_storage_errors_total") >= 1
    log = Path(system.local.log_dir, "gateway-deadredis.log").read_text()
    assert "rate-limit storage unreachable" in log
    assert dead.split("//")[1].split("/")[0] in log  # where, for the operator


def test_redis_going_away_is_survived_counted_and_recovered(shared, private_redis):
    system, _ = shared
    url, servers, start = private_redis
    gateway = add_gateway(system, "gateway-privateredis", AW_REDIS_URL=url, AW_GATEWAY_WORKERS="1")
    _, key = system.new_key(scopes="read", plan="free")
    session = requests.Session()
    assert get(gateway, key, session).status_code == 200
    assert metric_value(gateway, "aw_ratelimit_storage_errors_total") == 0
    servers[0].terminate()
    servers[0].wait(timeout=10)
    time.sleep(1.1)
    answers = [get(gateway, key, session) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    errors = metric_value(gateway, "aw_ratelimit_storage_errors_total")
    assert errors >= 1
    assert metric_value(gateway, "aw_ratelimit_fallback_total") >= 3
    servers.append(start())  # Redis is back on the same port
    time.sleep(1.1)  # past the retry interval
    for _ in range(3):
        assert get(gateway, key, session).status_code == 200
    time.sleep(1.1)
    assert get(gateway, key, session).status_code == 200
    assert metric_value(gateway, "aw_ratelimit_storage_errors_total") == errors  # no new failures
    log = Path(system.local.log_dir, "gateway-privateredis.log").read_text()
    assert re.search("rate-limit storage answers again", log)
