"""The SDK against the real running system: every method whose route exists, typed errors from
real answers, automatic pagination, rate limits and retries."""
from __future__ import annotations

import time
import uuid

import anomalywatch_sdk as sdk
import pytest
from anomalywatch_sdk import Client

pytestmark = pytest.mark.e2e


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def test_health_and_ready(client):
    assert client.health() == {"status": "ok"}
    assert client.ready()["status"] == "ready"


def test_single_point_ingest_returns_the_scored_answer(client):
    metric = unique("sdk.single")
    answer = client.ingest.point(metric, 42.5, timestamp=time.time() - 5, tags={"host": "web-1"},
                                 source="sdk")
    assert answer["status"] == "ingested" and answer["metric_id"].startswith("met_")
    assert answer["learning"] is True and answer["anomaly_id"] is None
    assert client.last_rate_limit is not None and client.last_rate_limit.limit == 10_000
    series = client.metrics.get(answer["metric_id"])
    assert series["name"] == metric and series["tags"] == {"host": "web-1"}
    assert [p["value"] for p in client.metrics.points(answer["metric_id"])] == [42.5]


def test_invalid_point_raises_validation_error_with_the_envelope(client):
    with pytest.raises(sdk.ValidationError) as caught:
        client.ingest.point("bad name", 1.0)
    error = caught.value
    assert error.status == 400 and error.code == "VALIDATION_ERROR"
    assert error.message == "invalid metric - bad name - invalid characters in name"
    assert error.details["index"] == 0


def test_batch_with_rejections_returns_the_207_body_as_data(client):
    metric, t = unique("sdk.batch"), time.time() - 100
    result = client.ingest.batch([{"metric": metric, "value": 1, "timestamp": t},
                                  {"metric": metric, "value": 2, "timestamp": t + 1},
                                  {"metric": metric, "value": 3, "timestamp": t + 2, "colour": "red"}])
    assert (result["status"], result["accepted"], result["rejected"]) == ("partial", 2, 1)
    assert [r["index"] for r in result["results"]] == [0, 1, 2]
    assert [r["metric_id"].startswith("met_") for r in result["results"][:2]] == [True, True]
    assert result["results"][2]["status"] == 400
    assert result["results"][2]["error"] == "Invalid parameter received - colour"
    all_good = client.ingest.batch([{"metric": metric, "value": 4, "timestamp": t + 3}])
    assert all_good["status"] == "ingested" and all_good["accepted"] == 1


def test_test_only_posts_are_listed_and_store_nothing(client):
    metric = unique("sdk.testonly")
    client.ingest.point(metric, 1.0, test_only=True)
    page = client.ingest.test_posts(limit=100)
    assert metric in [p["metric"] for p in page.data]
    assert list(client.metrics.list(name=metric)) == []


def test_anomify_post(client):
    metric = unique("sdk.flux")
    assert client.ingest.anomify([{"metric": metric, "timestamp": int(time.time()) - 10, "value": 7}]) is None
    assert [m["name"] for m in client.metrics.list(name=metric)] == [metric]
    with pytest.raises(sdk.ValidationError) as caught:
        client.ingest.anomify([{"metric": "bad name", "timestamp": int(time.time()), "value": 1}])
    assert "invalid characters in name" in caught.value.message
    with pytest.raises(sdk.AuthenticationError):
        client.ingest.anomify([{"metric": metric, "timestamp": int(time.time()), "value": 1}],
                              key="aw_live_" + "z" * 32)


def test_metrics_iterator_walks_every_page(client):
    metric, t = unique("sdk.pages"), time.time() - 50
    client.ingest.batch([{"metric": metric, "value": i, "timestamp": t, "tags": {"shard": str(i)}}
                         for i in range(7)])
    page = client.metrics.page(limit=3, name=metric)
    assert len(page) == 3 and page.total == 7 and page.has_more
    listed = list(client.metrics.list(name=metric, page_size=3))
    assert sorted(m["tags"]["shard"] for m in listed) == [str(i) for i in range(7)]
    assert len({m["id"] for m in listed}) == 7
    assert [m["tags"] for m in client.metrics.list(name=metric, tags={"shard": "4"})] == [{"shard": "4"}]


def test_unknown_metric_is_not_found(client):
    with pytest.raises(sdk.NotFoundError) as caught:
        client.metrics.get("met_doesnotexist")
    assert caught.value.code == "METRIC_NOT_FOUND"


def test_anomaly_config_by_name_and_by_id(client):
    metric = unique("sdk.config")
    defaults = client.metrics.get_anomaly_config(metric)
    assert defaults["spike_threshold"] == 3.0 and defaults["overrides"] == {}
    updated = client.metrics.put_anomaly_config(metric, sensitivity="high", min_data_points=20)
    assert updated["sensitivity"] == "high" and updated["overrides"] == {"sensitivity": "high",
                                                                         "min_data_points": 20}
    metric_id = client.ingest.point(metric, 1.0, timestamp=time.time() - 1)["metric_id"]
    series = client.metrics.put_anomaly_config(metric_id, spike_threshold=5.0)
    assert series["spike_threshold"] == 5.0 and series["sensitivity"] == "high"
    with pytest.raises(sdk.ValidationError) as caught:
        client.metrics.put_anomaly_config(metric, spike_threshold=0.5)
    assert caught.value.code == "INVALID_THRESHOLD"


def test_api_keys_create_list_revoke(system, client):
    created = client.api_keys.create(["read"], name="sdk-made", environment="live")
    assert created["key"].startswith("aw_live_") and created["prefix"] == created["key"][:12]
    listed = {k["id"]: k for k in client.api_keys.list(page_size=2)}
    assert created["id"] in listed and "key" not in listed[created["id"]]
    reader = Client(created["key"], base_url=system.base_url, max_retries=0)
    assert isinstance(list(reader.metrics.list(name="nothing")), list)
    with pytest.raises(sdk.PermissionDenied) as caught:
        reader.ingest.point("m", 1.0)
    assert caught.value.code == "FORBIDDEN" and caught.value.details["required_scope"] == "ingest"
    client.api_keys.revoke(created["id"])
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            reader.metrics.page()
        except sdk.AuthenticationError as error:
            assert error.code == "UNAUTHORIZED"
            break
        time.sleep(0.1)
    else:
        pytest.fail("the revoked key still works")
    revoked = next(k for k in client.api_keys.list() if k["id"] == created["id"])
    assert revoked["revoked_at"] is not None
    with pytest.raises(sdk.NotFoundError) as caught:
        client.api_keys.revoke("key_doesnotexist")
    assert caught.value.code == "KEY_NOT_FOUND"


def test_rate_limit_error_and_retries_against_the_real_gateway(system):
    _, key = system.new_key(scopes="read", plan="free")
    impatient = Client(key, base_url=system.base_url, max_retries=0)
    served = 0
    with pytest.raises(sdk.RateLimitError) as caught:
        for _ in range(20):
            impatient.metrics.page()
            served += 1
    assert served == 5  # the free plan's burst
    assert caught.value.code == "RATE_LIMITED" and caught.value.retry_after >= 1
    time.sleep(1.1)
    patient = Client(key, base_url=system.base_url, max_retries=3)
    started = time.monotonic()
    for _ in range(8):  # over the burst: the client waits for Retry-After instead of failing
        patient.metrics.page()
    assert time.monotonic() - started >= 0.9
    # Without Redis each gateway worker process keeps its own windows: at least these 8 counted.
    assert patient.last_rate_limit.limit == 100 and patient.last_rate_limit.remaining <= 100 - 8
