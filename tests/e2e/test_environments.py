"""Environments through REST: an account's aw_test_ keys see and write only its sandbox, its aw_live_
keys only its live data (series, points, anomalies, rules and configs)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.e2e.builders import create_rule, grid, ingest, new_user

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pair(system):
    """(live user, sandbox user) of one fresh account, each with every scope."""
    live = new_user(system, environment="live")
    return live, new_user(system, environment="test", account=live.account_id)


def test_series_points_and_anomalies_stay_in_their_environment(pair):
    live, sandbox = pair
    n = 150
    ts = grid(n)
    values = 100.0 + np.random.default_rng(7).normal(0, 2.0, n)
    values[-1] = 10_000.0  # a spike after warm-up: a live anomaly
    ingest(live, "env.iso", ts, values)
    live_metric = live.get("/v1/metrics", name="env.iso").json()["data"][0]["id"]
    live_anomalies = live.get("/v1/anomalies", metric="env.iso").json()
    assert live_anomalies["pagination"]["total"] >= 1

    assert sandbox.get("/v1/metrics", name="env.iso").json()["data"] == []
    assert sandbox.get(f"/v1/metrics/{live_metric}/points").status_code == 404
    assert sandbox.get("/v1/anomalies", metric="env.iso").json()["data"] == []
    assert sandbox.get("/v1/anomalies/summary").json()["data"]["total"] == 0
    anomaly_id = live_anomalies["data"][0]["id"]
    assert sandbox.post(f"/v1/anomalies/{anomaly_id}/acknowledge", {}).status_code == 404

    # the sandbox writes the same name at the same timestamps: its own series, no conflict with live
    ingest(sandbox, "env.iso", ts[:20], values[:20] + 1.0)
    mine = sandbox.get("/v1/metrics", name="env.iso").json()["data"]
    assert len(mine) == 1 and mine[0]["id"] != live_metric
    assert len(live.get(f"/v1/metrics/{live_metric}/points", limit=1000).json()["data"]) == n


def test_rules_stay_in_their_environment(pair):
    live, sandbox = pair
    rule_id = create_rule(live, "env-rule", "env.rule", "greater_than", 5, severity="critical")["id"]
    assert sandbox.get("/v1/anomalies/rules").json()["data"] == []
    assert sandbox.get(f"/v1/anomalies/rules/{rule_id}").status_code == 404
    # the same name is free in the sandbox, and a sandbox point over the threshold fires nothing live
    create_rule(sandbox, "env-rule", "env.rule", "greater_than", 5, severity="info")
    ingest(sandbox, "env.rule", grid(1), [50.0])
    assert live.get("/v1/anomalies", metric="env.rule").json()["data"] == []
    assert [a["severity"] for a in sandbox.get("/v1/anomalies", metric="env.rule").json()["data"]] == ["info"]


def test_configs_by_name_stay_in_their_environment(pair):
    live, sandbox = pair
    put = sandbox.put("/v1/metrics/env.cfg/anomaly_config", {"min_data_points": 20, "sensitivity": "high"})
    assert put.status_code == 200, put.text
    assert put.json()["data"]["overrides"] == {"min_data_points": 20, "sensitivity": "high"}
    seen_live = live.get("/v1/metrics/env.cfg/anomaly_config").json()["data"]
    assert seen_live["overrides"] == {} and seen_live["min_data_points"] == 100
    assert seen_live["sensitivity"] == "medium"
