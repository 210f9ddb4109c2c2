"""Anomalies through REST against the real processes: a user's path from finding an anomaly to
resolving it, every list filter and the pagination, stats and summary, route order, scopes and
bad input. One fresh account holds a known set of anomalies (hourly series, so none goes stale and
opens missing_data anomalies while the module runs)."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import pytest

from tests.e2e.builders import create_rule, error_of, grid, ingest, new_user

pytestmark = pytest.mark.e2e
HOUR = 3600.0


def at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def moment() -> float:
    """A client time strictly between two server detections (same machine clock)."""
    time.sleep(0.05)
    now = time.time()
    time.sleep(0.05)
    return now


@pytest.fixture(scope="module")
def world(system):
    """Five anomalies: two critical threshold episodes of svc.latency{env:prod} (the first ended),
    a warning one of svc.latency{env:staging} (acknowledged), an info one of svc.errors (resolved,
    severity given as MeshAI's `low`), and a statistical spike of stat.cpu."""
    user = new_user(system)
    create_rule(
        user, "latency-critical", "svc.latency", "greater_than", 500, "critical", {"tags": {"env": "prod"}}
    )
    create_rule(
        user, "latency-warning", "svc.latency", "greater_than", 300, "warning", {"tags": {"env": "staging"}}
    )
    create_rule(user, "errors-info", "svc.errors", "greater_than_or_equal", 10, "low")
    ts = grid(40, end_offset=10, step=HOUR)
    prod = {"env": "prod", "region": "eu"}
    values = [200.0 + i for i in range(40)]
    values[20], values[21] = 800.0, 850.0
    early = ingest(user, "svc.latency", ts[:30], values[:30], prod)
    assert early[20]["anomaly_id"] == early[21]["anomaly_id"] and early[22]["anomaly_id"] is None
    first = early[20]["anomaly_id"]
    t_mid = moment()
    staging = ingest(user, "svc.latency", ts[:5], [100, 100, 400, 100, 100], {"env": "staging"})[2][
        "anomaly_id"
    ]
    errors = ingest(user, "svc.errors", ts[:3], [0, 25, 0])[1]["anomaly_id"]
    t_late = moment()
    second = ingest(user, "svc.latency", ts[30:], [*values[30:39], 900.0], prod)[-1]["anomaly_id"]
    assert user.put("/v1/metrics/stat.cpu/anomaly_config", {"min_data_points": 10}).status_code == 200
    rng = random.Random(7)
    cpu = [100 + rng.gauss(0, 2) for _ in range(59)] + [400.0]
    spike = ingest(user, "stat.cpu", grid(60, 10, HOUR), cpu, {"region": "us"})[-1]
    assert spike["type"] == "spike" and spike["anomaly_id"], spike
    assert user.post(f"/v1/anomalies/{staging}/acknowledge").status_code == 200
    assert user.post(f"/v1/anomalies/{errors}/resolve", {"root_cause": "bug"}).status_code == 200
    return {
        "user": user,
        "ts": ts,
        "values": values,
        "first": first,
        "second": second,
        "staging": staging,
        "errors": errors,
        "spike": spike["anomaly_id"],
        "t_mid": t_mid,
        "t_late": t_late,
    }


def listed(user, **params) -> dict:
    answer = user.get("/v1/anomalies", **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_user_finds_reads_acknowledges_and_resolves_a_critical_anomaly(world):
    user, first, second = world["user"], world["first"], world["second"]
    stats_before = user.get("/v1/anomalies/stats").json()["data"]
    summary_before = user.get("/v1/anomalies/summary").json()["data"]
    assert stats_before["mean_time_to_acknowledge"] is not None  # staging was acknowledged
    found = listed(user, metric="svc.latency", status="active", severity="critical")
    assert [a["id"] for a in found["data"]] == [second, first]  # newest first
    assert found["meta"] == {"total": 2, "active": 2, "acknowledged": 0, "resolved": 0}

    detail = user.get(f"/v1/anomalies/{first}").json()["data"]
    ts, values = world["ts"], world["values"]
    assert (detail["type"], detail["severity"], detail["status"]) == ("threshold", "critical", "active")
    assert detail["tags"] == {"env": "prod", "region": "eu"} and detail["rule_id"].startswith("rule_")
    assert (detail["current_value"], detail["peak_value"], detail["baseline_value"]) == (850.0, 850.0, 500.0)
    assert detail["deviation_percent"] == 70.0 and "850" in detail["description"]
    assert (at(detail["started_at"]), at(detail["last_seen_at"]), at(detail["ended_at"])) == (
        ts[20],
        ts[21],
        ts[22],
    )
    assert detail["point_count"] == 2 and detail["events"] == []
    # Ten steps each side of the episode, and the same span one day earlier.
    assert [(at(p["timestamp"]), p["value"]) for p in detail["history"]] == list(
        zip(ts[10:33], values[10:33], strict=True)
    )
    assert [(at(p["timestamp"]), p["value"]) for p in detail["baseline_history"]] == list(
        zip(ts[:9], values[:9], strict=True)
    )

    acked = user.post(f"/v1/anomalies/{first}/acknowledge", {"note": "paging the owner"})
    assert acked.status_code == 200, acked.text
    body = acked.json()["data"]
    assert body["status"] == "acknowledged" and body["acknowledged_by"] == user.key_id()
    assert body["note"] == "paging the owner" and [e["action"] for e in body["events"]] == ["acknowledge"]
    again = user.post(f"/v1/anomalies/{first}/acknowledge", {"note": "ignored"})
    assert again.status_code == 200 and again.json()["data"] == body  # unchanged

    bad = user.post(f"/v1/anomalies/{first}/resolve", {"root_cause": "gremlins"})
    error = error_of(bad)
    assert (
        bad.status_code == 400
        and error["code"] == "VALIDATION_ERROR"
        and error["details"]["field"] == "root_cause"
    )
    assert "deployment" in error["details"]["allowed"]
    assert user.get(f"/v1/anomalies/{first}").json()["data"]["status"] == "acknowledged"  # nothing changed

    resolved = user.post(
        f"/v1/anomalies/{first}/resolve", {"note": "rolled back", "root_cause": "deployment"}
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()["data"]
    assert (body["status"], body["root_cause"], body["note"]) == ("resolved", "deployment", "rolled back")
    assert (
        body["resolved_by"] == user.key_id()
        and body["acknowledged_at"] == acked.json()["data"]["acknowledged_at"]
    )
    assert [(e["action"], e["note"]) for e in body["events"]] == [
        ("acknowledge", "paging the owner"),
        ("resolve", "rolled back"),
    ]
    for action in ("resolve", "acknowledge"):
        conflict = user.post(f"/v1/anomalies/{first}/{action}", {})
        assert conflict.status_code == 409 and error_of(conflict)["code"] == "ALREADY_RESOLVED"

    stats = user.get("/v1/anomalies/stats").json()["data"]
    assert stats["by_status"]["active"] == stats_before["by_status"]["active"] - 1
    assert stats["by_status"]["resolved"] == stats_before["by_status"]["resolved"] + 1
    assert stats["by_root_cause"] == {"bug": 1, "deployment": 1}
    summary = user.get("/v1/anomalies/summary").json()["data"]
    assert summary["by_status"]["resolved"] == summary_before["by_status"]["resolved"] + 1
    assert summary["total"] == summary_before["total"] == 5


def test_stats_and_summary_have_every_field_and_exact_means(world):
    user = world["user"]
    everything = listed(user, status="all", limit=1000)["data"]
    stats = user.get("/v1/anomalies/stats").json()["data"]
    assert set(stats) == {
        "total",
        "by_status",
        "by_severity",
        "by_type",
        "by_metric",
        "by_root_cause",
        "mean_time_to_acknowledge",
        "mean_time_to_resolve",
    }
    assert stats["total"] == len(everything) == 5
    for name in ("status", "severity", "type"):
        counted = {}
        for a in everything:
            counted[a[name]] = counted.get(a[name], 0) + 1
        assert {k: v for k, v in stats[f"by_{name}"].items() if v} == counted
    assert stats["by_metric"] == {"svc.latency": 3, "svc.errors": 1, "stat.cpu": 1}
    acked = [a for a in everything if a["acknowledged_at"]]
    resolved = [a for a in everything if a["resolved_at"]]
    mtta = sum(at(a["acknowledged_at"]) - at(a["detected_at"]) for a in acked) / len(acked)
    mttr = sum(at(a["resolved_at"]) - at(a["detected_at"]) for a in resolved) / len(resolved)
    assert stats["mean_time_to_acknowledge"] == pytest.approx(mtta, abs=0.01)  # ISO output keeps ms
    assert stats["mean_time_to_resolve"] == pytest.approx(mttr, abs=0.01)
    # A window: only what was detected in it; nothing to average is null.
    window = user.get(
        "/v1/anomalies/stats", **{"from": iso(world["t_mid"]), "to": iso(world["t_late"])}
    ).json()
    assert window["data"]["total"] == 2 and window["data"]["by_metric"] == {"svc.latency": 1, "svc.errors": 1}
    empty = user.get("/v1/anomalies/stats", to="2020-01-01").json()["data"]
    assert (
        empty["total"] == 0
        and empty["mean_time_to_acknowledge"] is None
        and empty["mean_time_to_resolve"] is None
    )
    assert empty["by_status"] == {"active": 0, "acknowledged": 0, "resolved": 0}
    reversed_window = user.get("/v1/anomalies/stats", **{"from": "2026-01-02", "to": "2026-01-01"})
    assert reversed_window.status_code == 400 and error_of(reversed_window)["details"]["field"] == "from"
    summary = user.get("/v1/anomalies/summary").json()["data"]
    assert set(summary) == {"total", "by_status", "by_type"} and summary["total"] == 5
    assert summary["by_status"] == stats["by_status"] and summary["by_type"] == stats["by_type"]


def test_every_filter_matches_the_anomalies_it_names(world):
    user = world["user"]
    everything = listed(user, status="all", limit=1000)["data"]
    assert sorted(a["id"] for a in everything) == sorted(
        world[k] for k in ("first", "second", "staging", "errors", "spike")
    )
    detected = [at(a["detected_at"]) for a in everything]
    assert detected == sorted(detected, reverse=True)  # newest first
    assert listed(user)["data"] == everything  # no status: every status
    by_id = {a["id"]: a for a in everything}
    t_mid, t_late = iso(world["t_mid"]), iso(world["t_late"])
    cases = [
        ({"status": "active"}, lambda a: a["status"] == "active"),
        ({"status": "open"}, lambda a: a["status"] == "active"),
        ({"status": "acknowledged"}, lambda a: a["status"] == "acknowledged"),
        ({"status": "resolved"}, lambda a: a["status"] == "resolved"),
        ({"severity": "critical"}, lambda a: a["severity"] == "critical"),
        ({"severity": "warning"}, lambda a: a["severity"] == "warning"),
        ({"severity": "info"}, lambda a: a["severity"] == "info"),
        ({"severity": "low"}, lambda a: a["severity"] == "info"),
        ({"type": "threshold"}, lambda a: a["type"] == "threshold"),
        ({"type": "spike"}, lambda a: a["type"] == "spike"),
        ({"type": "drop"}, lambda a: False),
        ({"metric": "svc.latency"}, lambda a: a["metric"] == "svc.latency"),
        ({"metric": "svc"}, lambda a: False),  # exact names, not prefixes
        ({"metric_id": by_id[world["spike"]]["metric_id"]}, lambda a: a["id"] == world["spike"]),
        ({"tag.env": "prod"}, lambda a: a["tags"].get("env") == "prod"),
        ({"tag.env": "prod", "tag.region": "eu"}, lambda a: a["tags"].get("env") == "prod"),
        ({"tag.region": "us"}, lambda a: a["id"] == world["spike"]),
        ({"tag.env": "nowhere"}, lambda a: False),
        ({"from": t_mid}, lambda a: at(a["detected_at"]) >= world["t_mid"]),
        ({"to": t_late}, lambda a: at(a["detected_at"]) <= world["t_late"]),
        ({"from": t_mid, "to": t_late}, lambda a: a["id"] in (world["staging"], world["errors"])),
        (
            {"metric": "svc.latency", "status": "active", "tag.env": "prod"},
            lambda a: (
                a["metric"] == "svc.latency" and a["status"] == "active" and a["tags"].get("env") == "prod"
            ),
        ),
    ]
    for params, wanted in cases:
        body = listed(user, **params, limit=1000)
        expected = [a["id"] for a in everything if wanted(a)]
        assert [a["id"] for a in body["data"]] == expected, params
        assert body["pagination"]["total"] == len(expected), params
        # meta counts by status for the filter without its status part
        rest = {k: v for k, v in params.items() if k != "status"}
        pool = [a for a in listed(user, **rest, limit=1000)["data"]]
        assert body["meta"] == {
            "total": len(pool),
            **{s: sum(a["status"] == s for a in pool) for s in ("active", "acknowledged", "resolved")},
        }, params
    assert len([a for a in everything if a["id"] in (world["staging"], world["errors"])]) == 2


@pytest.mark.parametrize(
    ("params", "field", "allowed"),
    [
        ({"status": "closed"}, "status", "all"),
        ({"severity": "urgent"}, "severity", "critical"),
        ({"type": "blip"}, "type", "level_shift"),
        ({"sevrity": "critical"}, "sevrity", "severity"),
    ],
)
def test_unknown_filter_values_are_400_naming_the_field_and_the_allowed_values(world, params, field, allowed):
    answer = world["user"].get("/v1/anomalies", **params)
    error = error_of(answer)
    assert answer.status_code == 400 and error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field and allowed in error["details"]["allowed"]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"to": "2026-13-01"},
        {"limit": "-1"},
        {"limit": "0"},
        {"limit": "ten"},
        {"offset": "-5"},
        {"offset": "1.5"},
        {"page": "0"},
    ],
)
def test_bad_times_and_paging_are_400(world, params):
    answer = world["user"].get("/v1/anomalies", **params)
    assert answer.status_code == 400 and error_of(answer)["details"]["field"] == next(iter(params))


def test_pagination_by_limit_offset_and_page(world):
    user = world["user"]
    everything = [a["id"] for a in listed(user, limit=1000)["data"]]
    assert listed(user)["pagination"] == {"total": 5, "limit": 50, "offset": 0, "has_more": False}
    pages = [listed(user, limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [a["id"] for p in pages for a in p["data"]] == everything
    assert [p["pagination"]["has_more"] for p in pages] == [True, True, False]
    assert pages[1]["pagination"] == {"total": 5, "limit": 2, "offset": 2, "has_more": True}
    assert listed(user, limit=2, page=2)["data"] == pages[1]["data"]
    assert [a["id"] for a in listed(user, limit=2, page=3)["data"]] == everything[4:]
    beyond = listed(user, limit=2, offset=10)
    assert beyond["data"] == [] and beyond["pagination"]["total"] == 5 and beyond["meta"]["total"] == 5
    assert listed(user, limit=5000)["pagination"]["limit"] == 1000  # lowered to the maximum
    filtered = listed(user, status="active", limit=1)
    assert (
        filtered["pagination"]["total"] == filtered["meta"]["active"] and filtered["pagination"]["has_more"]
    )


def test_static_paths_are_not_ids_and_unknown_ids_are_404(world):
    user = world["user"]
    assert "by_severity" in user.get("/v1/anomalies/stats").json()["data"]
    assert "by_type" in user.get("/v1/anomalies/summary").json()["data"]
    assert "pagination" in user.get("/v1/anomalies/rules").json()
    for path in ("/v1/anomalies/anom_doesnotexist", "/v1/anomalies/summaryx"):
        missing = user.get(path)
        assert missing.status_code == 404 and error_of(missing)["code"] == "ANOMALY_NOT_FOUND"
    for path in ("/v1/anomalies/anom_doesnotexist/acknowledge", "/v1/anomalies/anom_doesnotexist/resolve"):
        missing = user.post(path, {})
        assert missing.status_code == 404 and error_of(missing)["code"] == "ANOMALY_NOT_FOUND"
    wrong = user.http.post(user.url("/v1/anomalies/stats"), json={}, timeout=10)
    assert wrong.status_code == 405 and error_of(wrong)["code"] == "METHOD_NOT_ALLOWED"


def test_scopes_read_for_reads_write_for_actions(system, world):
    user, second = world["user"], world["second"]
    reader = new_user(system, scopes="read", account=user.account_id)
    assert reader.get("/v1/anomalies").status_code == 200
    assert reader.get(f"/v1/anomalies/{second}").status_code == 200
    for path in (f"/v1/anomalies/{second}/acknowledge", f"/v1/anomalies/{second}/resolve"):
        refused = reader.post(path, {})
        assert refused.status_code == 403 and error_of(refused)["code"] == "FORBIDDEN"
    ingester = new_user(system, scopes="ingest", account=user.account_id)
    for path in ("/v1/anomalies", "/v1/anomalies/stats", "/v1/anomalies/summary", f"/v1/anomalies/{second}"):
        assert ingester.get(path).status_code == 403, path
    assert user.get(f"/v1/anomalies/{second}").json()["data"]["status"] == "active"  # nothing changed
    anonymous = user.http.get(user.url("/v1/anomalies"), headers={"Authorization": ""}, timeout=10)
    assert anonymous.status_code == 401


def test_bad_action_bodies_are_400_or_415_and_change_nothing(world):
    user, second = world["user"], world["second"]
    url = user.url(f"/v1/anomalies/{second}/acknowledge")
    cases = [
        ({"note": 5}, 400, "note"),
        ({"note": "x" * 2001}, 400, "note"),
        ({"nota": "typo"}, 400, "nota"),
        (["note"], 400, "body"),
    ]
    for body, status, field in cases:
        answer = user.http.post(url, json=body, timeout=10)
        assert answer.status_code == status and error_of(answer)["details"]["field"] == field, body
    not_json = user.http.post(url, data="note=hi", headers={"Content-Type": "text/plain"}, timeout=10)
    assert not_json.status_code == 415 and error_of(not_json)["code"] == "UNSUPPORTED_MEDIA_TYPE"
    resolve = user.url(f"/v1/anomalies/{second}/resolve")
    for body in ({"root_cause": 3}, {"root_cause": "Deployment"}, {"note": None, "root_cause": ["bug"]}):
        answer = user.http.post(resolve, json=body, timeout=10)
        assert answer.status_code == 400 and error_of(answer)["details"]["field"] == "root_cause", body
    assert user.get(f"/v1/anomalies/{second}").json()["data"]["status"] == "active"


def test_text_no_store_can_hold_is_400_not_a_server_error(world):
    """NUL (PostgreSQL text refuses it) and lone surrogates (protobuf refuses them), in the path,
    the query and the body."""
    user, second = world["user"], world["second"]
    for path in ("/v1/anomalies/anom_%00", "/v1/anomalies/anom_%00/acknowledge"):
        answer = user.http.request("GET" if path.count("/") == 3 else "POST", user.url(path), timeout=10)
        assert answer.status_code == 400 and error_of(answer)["details"]["field"] == "anomaly_id", path
    for params in ({"metric": "a\x00b"}, {"tag.env": "\x00"}):
        answer = user.get("/v1/anomalies", **params)
        assert answer.status_code == 400, params
    url = user.url(f"/v1/anomalies/{second}/acknowledge")
    for raw in ('{"note": "a\\u0000b"}', '{"note": "\\ud800"}'):
        answer = user.http.post(url, data=raw, headers={"Content-Type": "application/json"}, timeout=10)
        assert answer.status_code == 400 and error_of(answer)["details"]["field"] == "note", raw
    assert user.get(f"/v1/anomalies/{second}").json()["data"]["status"] == "active"
