"""The gateway's rate limiter through the Flask test client: per-key plan limits with bursts, the
headers on every keyed response, the 429 envelope, per-address limits without a valid key, the
Anomify endpoint's body key, exempt operations endpoints and Redis failures (fail open)."""
from __future__ import annotations

import json
import time

import pytest
from prometheus_client import REGISTRY

from tests.ratelimit.conftest import PLANS, make_app, redis_url_or_skip

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_for_next_second_window(seconds: float = 1.05) -> None:
    time.sleep(seconds)


def assert_rate_headers(response, per_minute: int) -> None:
    for header in RATE_HEADERS:
        assert header in response.headers, (response.status_code, dict(response.headers))
    assert response.headers["X-RateLimit-Limit"] == str(per_minute)
    remaining = int(response.headers["X-RateLimit-Remaining"])
    assert 0 <= remaining <= per_minute
    reset = int(response.headers["X-RateLimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 62


def test_keyed_responses_carry_the_per_minute_headers_and_remaining_counts_down(gateway):
    app, keys = gateway
    key, _ = keys.add(plan="tiny")
    client = app.test_client()
    remaining = []
    for _ in range(3):
        answer = client.get("/v1/_probe", headers=auth(key))
        assert answer.status_code == 200
        assert_rate_headers(answer, PLANS["tiny"].per_minute)
        assert answer.headers["X-RateLimit-Burst-Limit"] == str(PLANS["tiny"].burst_per_second)
        remaining.append(int(answer.headers["X-RateLimit-Remaining"]))
    assert remaining == [7, 6, 5]


@pytest.mark.parametrize("plan", ["free", "pro", "enterprise"])
def test_each_plan_reports_its_configured_per_minute_limit(plan):
    app, keys = make_app()
    key, _ = keys.add(plan=plan)
    answer = app.test_client().get("/v1/_probe", headers=auth(key))
    assert answer.status_code == 200
    assert answer.headers["X-RateLimit-Limit"] == str(PLANS[plan].per_minute)
    assert answer.headers["X-RateLimit-Burst-Limit"] == str(PLANS[plan].burst_per_second)
    assert int(answer.headers["X-RateLimit-Remaining"]) == PLANS[plan].per_minute - 1


def test_error_responses_to_a_valid_key_carry_the_headers_too(gateway):
    app, keys = gateway
    key, _ = keys.add(plan="flat", scopes="ingest")
    client = app.test_client()
    not_found = client.get("/v1/no-such-endpoint", headers=auth(key))
    assert not_found.status_code == 404 and not_found.json["error"]["code"] == "NOT_FOUND"
    bad_json = client.post("/v1/ingest", data=b"{not json",
                           headers={**auth(key), "Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json["error"]["code"] == "VALIDATION_ERROR"
    forbidden = client.get("/v1/_probe", headers=auth(key))  # scope read missing
    assert forbidden.status_code == 403
    wrong_method = client.delete("/v1/ingest", headers=auth(key))
    assert wrong_method.status_code == 405
    remaining = []
    for answer in (not_found, bad_json, forbidden, wrong_method):
        assert_rate_headers(answer, PLANS["flat"].per_minute)
        remaining.append(int(answer.headers["X-RateLimit-Remaining"]))
    assert remaining == [7, 6, 5, 4]  # every answered request counts, errors included


def test_over_the_burst_is_429_in_the_envelope_with_retry_after(gateway):
    app, keys = gateway
    key, _ = keys.add(plan="tiny")
    client = app.test_client()
    statuses = [client.get("/v1/_probe", headers=auth(key)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = client.get("/v1/_probe", headers=auth(key))
    assert refused.status_code == 429
    assert refused.is_json
    error = refused.json["error"]
    assert error["code"] == "RATE_LIMITED"
    assert "3 requests per second" in error["message"]
    assert error["details"]["window"] == "second" and error["details"]["plan"] == "tiny"
    assert refused.headers["Retry-After"] == "1"
    assert_rate_headers(refused, PLANS["tiny"].per_minute)
    assert refused.headers["X-RateLimit-Burst-Remaining"] == "0"
    # A refused request does not spend the budget: the per-minute window still counts 3.
    assert refused.headers["X-RateLimit-Remaining"] == "5"


def test_burst_recovers_after_a_second_but_the_minute_does_not(gateway):
    app, keys = gateway
    key, _ = keys.add(plan="tiny")  # 8/min, burst 3/s
    client = app.test_client()
    served = 0
    refusals = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = client.get("/v1/_probe", headers=auth(key))
        if answer.status_code == 200:
            served += 1
            continue
        assert answer.status_code == 429
        refusals.append(answer.json["error"]["details"]["window"])
        if answer.json["error"]["details"]["window"] == "minute":
            retry_after = int(answer.headers["Retry-After"])
            assert 50 <= retry_after <= 60
            assert answer.headers["X-RateLimit-Remaining"] == "0"
            break
        wait_for_next_second_window()
    assert served == 8
    assert refusals[:2] == ["second", "second"] and refusals[-1] == "minute"


def test_keys_have_separate_budgets(gateway):
    app, keys = gateway
    first, _ = keys.add(plan="tiny")
    second, _ = keys.add(plan="tiny")
    client = app.test_client()
    for _ in range(3):
        assert client.get("/v1/_probe", headers=auth(first)).status_code == 200
    assert client.get("/v1/_probe", headers=auth(first)).status_code == 429
    answer = client.get("/v1/_probe", headers=auth(second))
    assert answer.status_code == 200
    assert answer.headers["X-RateLimit-Remaining"] == "7"


def test_requests_without_a_valid_key_are_limited_per_address(gateway):
    app, keys = gateway
    client = app.test_client()
    anonymous = PLANS["anonymous"]
    variants = [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer aw_live_" + "x" * 32},
                {"Authorization": "Basic abc"}]
    statuses = [client.get("/v1/_probe", headers=variants[i % 4],
                           environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code
                for i in range(anonymous.burst_per_second + 1)]
    assert statuses == [401] * anonymous.burst_per_second + [429]
    refused = client.get("/v1/_probe", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert refused.status_code == 429 and refused.json["error"]["code"] == "RATE_LIMITED"
    assert "without a valid API key" in refused.json["error"]["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    # Another address has its own budget, and a valid key from the refused address its own too.
    assert client.get("/v1/_probe", environ_base={"REMOTE_ADDR": "10.0.0.8"}).status_code == 401
    key, _ = keys.add(plan="tiny")
    keyed = client.get("/v1/_probe", headers=auth(key), environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert keyed.status_code == 200


def test_operations_endpoints_are_not_limited(gateway):
    app, _ = gateway
    client = app.test_client()
    for _ in range(PLANS["anonymous"].burst_per_second * 3):
        for path in ("/healthz", "/metrics"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert "X-RateLimit-Limit" not in answer.headers
    # ...and they did not spend the address's budget.
    assert client.get("/v1/_probe").status_code == 401


def test_anomify_endpoint_is_limited_by_the_key_in_its_body(gateway):
    app, keys = gateway
    key, _ = keys.add(plan="tiny", scopes="ingest")
    client = app.test_client()
    point = {"metric": "bad name", "timestamp": int(time.time()), "value": 1}
    body = json.dumps({"key": key, "metrics": [point]})
    answers = [client.post("/flux/metric_data_post", data=body, content_type="application/json")
               for _ in range(4)]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    for answer in answers:
        assert_rate_headers(answer, PLANS["tiny"].per_minute)
    refused = answers[-1]
    assert refused.json["code"] == 429 and "retry after" in refused.json["message"]
    assert "error" not in refused.json  # Anomify's shape there, not the envelope
    assert refused.headers["Retry-After"] == "1"
    # The same key in the Authorization header spends the same budget.
    assert client.get("/v1/_probe", headers=auth(keys.add(plan="tiny")[0])).status_code == 200
    assert client.post("/v1/ingest", data=b"{", headers={**auth(key), "Content-Type": "application/json"}
                       ).status_code == 429


def test_anomify_posts_with_a_bad_key_are_limited_per_address(gateway):
    app, _ = gateway
    client = app.test_client()
    body = json.dumps({"key": "aw_live_" + "y" * 32, "metrics": []})
    statuses = [client.post("/flux/metric_data_post", data=body, content_type="application/json").status_code
                for _ in range(PLANS["anonymous"].burst_per_second + 1)]
    assert statuses == [401] * PLANS["anonymous"].burst_per_second + [429]


def _counter(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_unreachable_redis_fails_open_counts_it_and_still_limits_in_process():
    app, keys = make_app(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    key, _ = keys.add(plan="tiny")
    client = app.test_client()
    before = _counter("aw_ratelimit_storage_errors_total", {"operation": "acquire_entries"})
    first = client.get("/v1/_probe", headers=auth(key))
    assert first.status_code == 200
    assert_rate_headers(first, PLANS["tiny"].per_minute)
    assert _counter("aw_ratelimit_storage_errors_total", {"operation": "acquire_entries"}) == before + 1
    assert _counter("aw_ratelimit_fallback_total", {"operation": "acquire_entries"}) >= 1
    statuses = [client.get("/v1/_probe", headers=auth(key)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # the burst still holds, per process
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'aw_ratelimit_storage_errors_total{operation="acquire_entries"}' in metrics


@pytest.mark.redis
def test_redis_that_comes_back_is_used_again():
    url = redis_url_or_skip()
    app, keys = make_app(redis_url=url)
    storage = app.extensions["aw_limiter"].storage
    key, _ = keys.add(plan="tiny")
    client = app.test_client()
    real = storage.primary
    storage.primary = type(real)("redis://127.0.0.1:1/0", key_prefix="aw-ratelimit",
                                 socket_connect_timeout=0.2, socket_timeout=0.2)
    assert client.get("/v1/_probe", headers=auth(key)).status_code == 200
    assert storage.degraded
    storage.primary = real
    time.sleep(1.1)  # past the retry interval
    assert client.get("/v1/_probe", headers=auth(key)).status_code == 200
    assert not storage.degraded


@pytest.mark.redis
def test_two_apps_sharing_redis_share_one_budget():
    url = redis_url_or_skip()
    first_app, keys = make_app(redis_url=url)
    second_app, _ = make_app(redis_url=url)
    key, principal = keys.add(plan="tiny")
    second_app.extensions["aw"].principals._lookup = keys  # the same key table behind both
    clients = [first_app.test_client(), second_app.test_client()]
    statuses = [clients[i % 2].get("/v1/_probe", headers=auth(key)).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    answer = clients[1].get("/v1/_probe", headers=auth(key))
    assert answer.status_code == 429
    assert answer.headers["X-RateLimit-Remaining"] == "5"
