"""Environments through REST: an account's aw_test_ keys see and write only its sandbox, its aw_live_
keys only its live data (series, points, anomalies, rules and configs)."""
from __future__ import annotations

import pytest

from tests.e2e.test_detection import post_batches, series, timeline

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pair(system):
    """(live session, test session) of one fresh account, each with every scope."""
    account, live_key = system.new_key(environment="live")
    _, test_key = system.new_key(account=account, environment="test")
    return system.session(live_key), system.session(test_key)


def test_series_points_and_anomalies_stay_in_their_environment(system, pair):
    live, sandbox = pair
    url = system.base_url
    n = 150
    ts, values = timeline(n), series(n, seed=7)
    values[-1] = 10_000.0  # a spike after warm-up: a live anomaly
    post_batches(live, url, "env.iso", ts, values)
    live_metric = live.get(f"{url}/v1/metrics", params={"name": "env.iso"},
                           timeout=10).json()["data"][0]["id"]
    live_anomalies = live.get(f"{url}/v1/anomalies", params={"metric": "env.iso"}, timeout=10).json()
    assert live_anomalies["pagination"]["total"] >= 1

    assert sandbox.get(f"{url}/v1/metrics", params={"name": "env.iso"}, timeout=10).json()["data"] == []
    assert sandbox.get(f"{url}/v1/metrics/{live_metric}/points", timeout=10).status_code == 404
    assert sandbox.get(f"{url}/v1/anomalies", params={"metric": "env.iso"}, timeout=10).json()["data"] == []
    assert sandbox.get(f"{url}/v1/anomalies/summary", timeout=10).json()["data"]["total"] == 0
    anomaly_id = live_anomalies["data"][0]["id"]
    ack = sandbox.post(f"{url}/v1/anomalies/{anomaly_id}/acknowledge", json={}, timeout=10)
    assert ack.status_code == 404

    # the sandbox writes the same name at the same timestamps: its own series, no conflict with live
    post_batches(sandbox, url, "env.iso", ts[:20], values[:20] + 1.0)
    mine = sandbox.get(f"{url}/v1/metrics", params={"name": "env.iso"}, timeout=10).json()["data"]
    assert len(mine) == 1 and mine[0]["id"] != live_metric
    assert len(live.get(f"{url}/v1/metrics/{live_metric}/points", params={"limit": 1000},
                        timeout=10).json()["data"]) == n


def test_rules_stay_in_their_environment(system, pair):
    live, sandbox = pair
    url = system.base_url
    rule = {"name": "env-rule", "severity": "critical",
            "condition": {"metric": "env.rule", "operator": "greater_than", "threshold": 5}}
    created = live.post(f"{url}/v1/anomalies/rules", json=rule, timeout=10)
    assert created.status_code == 201, created.text
    rule_id = created.json()["data"]["id"]
    assert sandbox.get(f"{url}/v1/anomalies/rules", timeout=10).json()["data"] == []
    assert sandbox.get(f"{url}/v1/anomalies/rules/{rule_id}", timeout=10).status_code == 404
    # the same name is free in the sandbox, and a sandbox point over the threshold fires nothing live
    twin = sandbox.post(f"{url}/v1/anomalies/rules", json={**rule, "severity": "info"}, timeout=10)
    assert twin.status_code == 201
    ts = timeline(1)
    post_batches(sandbox, url, "env.rule", ts, [50.0])
    query = {"metric": "env.rule"}
    live_threshold = live.get(f"{url}/v1/anomalies", params=query, timeout=10).json()["data"]
    sandbox_threshold = sandbox.get(f"{url}/v1/anomalies", params=query, timeout=10).json()["data"]
    assert live_threshold == []
    assert [a["severity"] for a in sandbox_threshold] == ["info"]


def test_configs_by_name_stay_in_their_environment(system, pair):
    live, sandbox = pair
    url = system.base_url
    put = sandbox.put(f"{url}/v1/metrics/env.cfg/anomaly_config", json={"min_data_points": 20,
                                                                        "sensitivity": "high"}, timeout=10)
    assert put.status_code == 200, put.text
    assert put.json()["data"]["overrides"] == {"min_data_points": 20, "sensitivity": "high"}
    seen_live = live.get(f"{url}/v1/metrics/env.cfg/anomaly_config", timeout=10).json()["data"]
    assert seen_live["overrides"] == {} and seen_live["min_data_points"] == 100
    assert seen_live["sensitivity"] == "medium"
