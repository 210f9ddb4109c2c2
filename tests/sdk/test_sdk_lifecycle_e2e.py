"""The SDK's anomaly, rule and forecast methods against the real gateway. Each test first checks
that its route is served (an unknown route answers 404 NOT_FOUND, not a resource's *_NOT_FOUND) and
skips with that reason otherwise."""
from __future__ import annotations

import time
import uuid

import anomalywatch_sdk as sdk
import pytest

pytestmark = pytest.mark.e2e


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def require_route(call, what: str) -> None:
    try:
        call()
    except sdk.NotFoundError as error:
        if error.code == "NOT_FOUND":
            pytest.skip(f"{what} is not served by this gateway yet")


def threshold_anomaly(client, metric: str, value: float = 150.0) -> dict:
    """A rule on `metric` (> 100, critical) and a point that breaks it: the anomaly it opens."""
    condition = {"metric": metric, "operator": "greater_than", "threshold": 100}
    rule = client.rules.create(unique("rule"), condition, severity="critical")
    answer = client.ingest.point(metric, value, timestamp=time.time() - 2)
    assert answer["anomaly_id"] and answer["anomaly_id"].startswith("anom_"), answer
    anomaly = client.anomalies.get(answer["anomaly_id"])
    assert anomaly["rule_id"] == rule["id"]
    return anomaly


def test_rules_crud(client):
    require_route(lambda: client.rules.page(limit=1), "GET /v1/anomalies/rules")
    name, metric = unique("latency rule"), unique("sdk.rules")
    rule = client.rules.create(name, {"metric": metric, "operator": "greater_than", "threshold": 500},
                               severity="high", description="too slow", scope={"tags": {"env": "prod"}})
    assert rule["id"].startswith("rule_") and rule["severity"] == "critical"  # MeshAI's high
    assert rule["enabled"] is True and rule["scope"] == {"tags": {"env": "prod"}}
    assert client.rules.get(rule["id"])["name"] == name
    patched = client.rules.update(rule["id"], condition={"threshold": 750})
    assert patched["condition"] == {"metric": metric, "operator": "greater_than", "threshold": 750}
    assert rule["id"] in [r["id"] for r in client.rules.list(page_size=1)]
    with pytest.raises(sdk.ConflictError) as caught:
        client.rules.create(name, {"metric": metric, "operator": "less_than", "threshold": 1})
    assert caught.value.code == "CONFLICT"
    with pytest.raises(sdk.ValidationError):
        client.rules.create(unique("bad"), {"metric": metric, "operator": "roughly", "threshold": 1})
    assert client.rules.delete(rule["id"]) is None
    with pytest.raises(sdk.NotFoundError) as caught:
        client.rules.get(rule["id"])
    assert caught.value.code == "RULE_NOT_FOUND"


def test_anomaly_lifecycle(client):
    require_route(lambda: client.anomalies.page(limit=1), "GET /v1/anomalies")
    require_route(lambda: client.rules.page(limit=1), "GET /v1/anomalies/rules")
    metric = unique("sdk.lifecycle")
    anomaly = threshold_anomaly(client, metric)
    assert anomaly["type"] == "threshold" and anomaly["severity"] == "critical"
    assert anomaly["status"] == "active" and anomaly["metric"] == metric
    assert isinstance(anomaly["history"], list)
    page = client.anomalies.page(metric=metric)
    assert [a["id"] for a in page.data] == [anomaly["id"]] and page.meta["active"] == 1
    acknowledged = client.anomalies.acknowledge(anomaly["id"], note="looking")
    assert acknowledged["status"] == "acknowledged" and acknowledged["acknowledged_at"]
    assert acknowledged["acknowledged_by"].startswith("key_")
    again = client.anomalies.acknowledge(anomaly["id"])
    assert again["acknowledged_at"] == acknowledged["acknowledged_at"]
    with pytest.raises(sdk.ValidationError):
        client.anomalies.resolve(anomaly["id"], root_cause="gremlins")
    resolved = client.anomalies.resolve(anomaly["id"], note="rolled back", root_cause="deployment")
    assert resolved["status"] == "resolved" and resolved["root_cause"] == "deployment"
    for action in (lambda: client.anomalies.resolve(anomaly["id"]),
                   lambda: client.anomalies.acknowledge(anomaly["id"])):
        with pytest.raises(sdk.ConflictError) as caught:
            action()
        assert caught.value.code == "ALREADY_RESOLVED"
    assert [a["status"] for a in client.anomalies.list(metric=metric, status="resolved")] == ["resolved"]
    assert list(client.anomalies.list(metric=metric, status="active")) == []
    with pytest.raises(sdk.NotFoundError) as caught:
        client.anomalies.get("anom_doesnotexist")
    assert caught.value.code == "ANOMALY_NOT_FOUND"


def test_anomaly_iterator_stats_and_summary(client):
    require_route(lambda: client.anomalies.page(limit=1), "GET /v1/anomalies")
    require_route(lambda: client.rules.page(limit=1), "GET /v1/anomalies/rules")
    run = uuid.uuid4().hex[:8]
    ids = [threshold_anomaly(client, f"sdk.iter.{run}.{i}")["id"] for i in range(3)]
    seen = [a["id"] for a in client.anomalies.list(page_size=1, type="threshold") if a["id"] in ids]
    assert sorted(seen) == sorted(ids) and len(seen) == 3
    stats = client.anomalies.stats()
    assert stats["total"] >= 3 and stats["by_type"]["threshold"] >= 3
    summary = client.anomalies.summary()
    assert summary["total"] >= 3 and summary["by_status"]["active"] >= 1


def test_forecast(client):
    require_route(client.forecast.models, "GET /v1/forecast/models")
    models = client.forecast.models()
    names = [m["name"] if isinstance(m, dict) else m for m in models]
    assert "auto" in names
    metric, now = unique("sdk.forecast"), time.time()
    start = now - 300 * 60
    points = [{"metric": metric, "value": 100 + 10 * ((i % 24) / 24), "timestamp": start + 60 * i}
              for i in range(300)]
    assert client.ingest.batch(points)["accepted"] == 300
    answer = client.forecast.run(metric, horizon="30m", confidence=0.9)
    assert answer["step_seconds"] == 60 and len(answer["forecast"]) == 30
    assert answer["model"] != "auto" and answer["confidence"] == 0.9
    first = answer["forecast"][0]
    assert first["lower"] <= first["value"] <= first["upper"]
    with pytest.raises(sdk.ValidationError) as caught:
        client.forecast.run(metric, horizon="30m", model="timesfm-v2-not-installed")
    assert caught.value.code == "MODEL_UNAVAILABLE"
    short = unique("sdk.short")
    client.ingest.point(short, 1.0, timestamp=now - 5)
    with pytest.raises(sdk.InsufficientDataError) as caught:
        client.forecast.run(short, horizon="1h")
    assert caught.value.status == 422
