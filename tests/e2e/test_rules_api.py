"""Threshold rules through REST against the real processes: CRUD, validation of every field, PATCH
merging, name conflicts, scopes, and rules firing on ingest (rule_id and severity, tag scope,
globs, disabled rules silent)."""

from __future__ import annotations

import time

import pytest

from tests.e2e.builders import create_rule, error_of, new_user

pytestmark = pytest.mark.e2e
RULES = "/v1/anomalies/rules"


@pytest.fixture(scope="module")
def user(system):
    return new_user(system)


def condition(metric="api.latency", operator="greater_than", threshold=500):
    return {"metric": metric, "operator": operator, "threshold": threshold}


def point(user, metric, value, tags=None, offset=0.0):
    answer = user.post(
        "/v1/ingest",
        {"metric": metric, "value": value, "timestamp": time.time() - 30 + offset, "tags": tags or {}},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_create_get_list_patch_delete(user):
    created = user.post(
        RULES,
        {
            "name": "slow api",
            "description": "p99 over budget",
            "condition": condition(),
            "severity": "high",
            "scope": {"tags": {"env": "prod"}},
        },
    )
    assert created.status_code == 201, created.text
    rule = created.json()["data"]
    assert rule["id"].startswith("rule_") and rule["severity"] == "critical"  # MeshAI's high, stored as ours
    assert rule["condition"] == condition() and rule["scope"] == {"tags": {"env": "prod"}}
    assert rule["enabled"] is True and rule["description"] == "p99 over budget"
    assert rule["created_at"] == rule["updated_at"] and rule["created_at"].endswith("Z")
    assert user.get(f"{RULES}/{rule['id']}").json()["data"] == rule

    patched = user.patch(f"{RULES}/{rule['id']}", {"condition": {"threshold": 150}})
    assert patched.status_code == 200, patched.text
    body = patched.json()["data"]
    assert body["condition"] == condition(threshold=150)  # metric and operator kept
    assert (body["name"], body["severity"], body["scope"]) == (
        "slow api",
        "critical",
        {"tags": {"env": "prod"}},
    )
    assert body["updated_at"] >= rule["updated_at"] and body["created_at"] == rule["created_at"]
    body = user.patch(
        f"{RULES}/{rule['id']}",
        {"scope": "global", "severity": "medium", "enabled": False, "condition": {"operator": "less_than"}},
    ).json()["data"]
    assert (body["scope"], body["severity"], body["enabled"]) == ("global", "warning", False)
    assert body["condition"] == condition(operator="less_than", threshold=150)
    assert user.patch(f"{RULES}/{rule['id']}", {}).json()["data"] == body  # nothing given, nothing changes

    listing = user.get(RULES).json()
    assert rule["id"] in [r["id"] for r in listing["data"]] and listing["pagination"]["total"] == len(
        listing["data"]
    )

    deleted = user.delete(f"{RULES}/{rule['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    for answer in (
        user.get(f"{RULES}/{rule['id']}"),
        user.patch(f"{RULES}/{rule['id']}", {"enabled": True}),
        user.delete(f"{RULES}/{rule['id']}"),
    ):
        assert answer.status_code == 404 and error_of(answer)["code"] == "RULE_NOT_FOUND"


def test_list_is_by_name_and_paginated(system):
    user = new_user(system)
    for name in ("c-rule", "a-rule", "b-rule"):
        create_rule(user, name, "paging.m", "equal", 1)
    names = [r["name"] for r in user.get(RULES).json()["data"]]
    assert names == ["a-rule", "b-rule", "c-rule"]
    second = user.get(RULES, limit=1, page=2).json()
    assert [r["name"] for r in second["data"]] == ["b-rule"]
    assert second["pagination"] == {"total": 3, "limit": 1, "offset": 1, "has_more": True}
    assert user.get(RULES, limit=-1).status_code == 400


def test_a_duplicate_name_is_409_conflict(user):
    first = create_rule(user, "unique-name", "dup.m", "greater_than", 1)
    again = user.post(RULES, {"name": "unique-name", "condition": condition("dup.m")})
    assert again.status_code == 409 and error_of(again)["code"] == "CONFLICT"
    other = create_rule(user, "other-name", "dup.m", "greater_than", 2)
    renamed = user.patch(f"{RULES}/{other['id']}", {"name": "unique-name"})
    assert renamed.status_code == 409 and error_of(renamed)["details"]["field"] == "name"
    assert user.get(f"{RULES}/{other['id']}").json()["data"]["name"] == "other-name"
    assert user.patch(f"{RULES}/{first['id']}", {"name": "unique-name"}).status_code == 200  # its own name


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"condition": condition()}, "name"),
        ({"name": "", "condition": condition()}, "name"),
        ({"name": 5, "condition": condition()}, "name"),
        ({"name": "x" * 256, "condition": condition()}, "name"),
        ({"name": "r"}, "condition"),
        ({"name": "r", "condition": "api.latency > 5"}, "condition"),
        ({"name": "r", "condition": {"metric": "m", "operator": "greater_than"}}, "condition.threshold"),
        ({"name": "r", "condition": {"operator": "greater_than", "threshold": 1}}, "condition.metric"),
        ({"name": "r", "condition": {"metric": "m", "threshold": 1}}, "condition.operator"),
        ({"name": "r", "condition": condition(operator="roughly")}, "condition.operator"),
        ({"name": "r", "condition": condition(operator=1)}, "condition.operator"),
        ({"name": "r", "condition": condition(threshold="500")}, "condition.threshold"),
        ({"name": "r", "condition": condition(threshold=True)}, "condition.threshold"),
        ({"name": "r", "condition": condition(threshold=10**400)}, "condition.threshold"),
        ({"name": "r", "condition": condition(metric="bad metric!")}, "condition.metric"),
        ({"name": "r", "condition": condition(metric=["m"])}, "condition.metric"),
        ({"name": "r", "condition": {**condition(), "window": "5m"}}, "condition.window"),
        ({"name": "r", "condition": condition(), "severity": "urgent"}, "severity"),
        ({"name": "r", "condition": condition(), "severity": 3}, "severity"),
        ({"name": "r", "condition": condition(), "scope": "local"}, "scope"),
        ({"name": "r", "condition": condition(), "scope": {"env": "prod"}}, "scope"),
        ({"name": "r", "condition": condition(), "scope": {"tags": {"env": 1}}}, "scope.tags"),
        ({"name": "r", "condition": condition(), "scope": {"tags": ["env"]}}, "scope.tags"),
        ({"name": "r", "condition": condition(), "enabled": "yes"}, "enabled"),
        ({"name": "r", "condition": condition(), "description": 7}, "description"),
        ({"name": "r", "condition": condition(), "description": "d" * 2001}, "description"),
        ({"name": "r", "condition": condition(), "priority": 1}, "priority"),
    ],
)
def test_every_field_is_validated_with_a_message_naming_it(user, body, field):
    answer = user.post(RULES, body)
    error = error_of(answer)
    assert answer.status_code == 400 and error["code"] == "VALIDATION_ERROR", answer.text
    assert error["details"]["field"] == field and error["message"]


def test_bad_patches_and_bodies_change_nothing(user):
    rule = create_rule(user, "guarded", "guard.m", "greater_than", 10, "info")
    url = f"{RULES}/{rule['id']}"
    for body, field in (
        ({"condition": {"threshold": "high"}}, "condition.threshold"),
        ({"condition": {"operator": "bigger"}}, "condition.operator"),
        ({"severity": "severe", "name": "renamed"}, "severity"),
        ({"scope": {"tags": {"a": None}}}, "scope.tags"),
        ({"name": "   "}, "name"),
        ({"id": "rule_x"}, "id"),
    ):
        answer = user.patch(url, body)
        assert answer.status_code == 400 and error_of(answer)["details"]["field"] == field, body
    assert user.get(url).json()["data"] == rule
    raw = user.http.post(user.url(RULES), data="name=x", headers={"Content-Type": "text/plain"}, timeout=10)
    assert raw.status_code == 415
    broken = user.http.post(
        user.url(RULES), data="{", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert broken.status_code == 400 and error_of(broken)["code"] == "VALIDATION_ERROR"
    assert user.http.post(user.url(RULES), json=[1], timeout=10).status_code == 400


def test_scopes_read_to_read_write_to_change(system, user):
    rule = create_rule(user, "scoped", "scoped.m", "greater_than", 1)
    reader = new_user(system, scopes="read", account=user.account_id)
    assert reader.get(RULES).status_code == 200 and reader.get(f"{RULES}/{rule['id']}").status_code == 200
    for answer in (
        reader.post(RULES, {"name": "r2", "condition": condition()}),
        reader.patch(f"{RULES}/{rule['id']}", {"enabled": False}),
        reader.delete(f"{RULES}/{rule['id']}"),
    ):
        assert answer.status_code == 403 and error_of(answer)["code"] == "FORBIDDEN"
    ingester = new_user(system, scopes="ingest", account=user.account_id)
    assert ingester.get(RULES).status_code == 403
    assert user.get(f"{RULES}/{rule['id']}").json()["data"] == rule


def test_rules_fire_on_ingest_with_their_id_and_severity(user):
    rule = create_rule(
        user, "disk-full", "disk.*", "greater_than_or_equal", 90, "critical", {"tags": {"tier": "db"}}
    )
    hit = point(user, "disk.used", 95, {"tier": "db", "host": "a"})
    assert (hit["type"], hit["severity"], hit["learning"]) == (
        "threshold",
        "critical",
        True,
    )  # from point one
    anomaly = user.get(f"/v1/anomalies/{hit['anomaly_id']}").json()["data"]
    assert (anomaly["rule_id"], anomaly["type"], anomaly["severity"]) == (rule["id"], "threshold", "critical")
    assert (
        anomaly["metric"] == "disk.used"
        and anomaly["current_value"] == 95.0
        and "disk-full" in anomaly["description"]
    )
    extended = point(user, "disk.used", 99, {"tier": "db", "host": "a"}, offset=1)
    assert extended["anomaly_id"] == hit["anomaly_id"]  # the same episode
    assert point(user, "disk.used", 50, {"tier": "db", "host": "a"}, offset=2)["anomaly_id"] is None
    ended = user.get(f"/v1/anomalies/{hit['anomaly_id']}").json()["data"]
    assert ended["ended_at"] and ended["point_count"] == 2 and ended["peak_value"] == 99.0
    # Out of scope: another tag value, a series without the tag, a name the glob does not match.
    assert point(user, "disk.used", 95, {"tier": "web"})["anomaly_id"] is None
    assert point(user, "disk.used", 95)["anomaly_id"] is None
    assert point(user, "disks.used", 95, {"tier": "db"})["anomaly_id"] is None
    assert point(user, "disk.free", 90, {"tier": "db"})["type"] == "threshold"  # >= 90, glob match


def test_a_disabled_rule_is_silent_and_enabling_it_again_fires(user):
    rule = create_rule(user, "silent", "quiet.m", "less_than", 0, "warning", enabled=False)
    assert rule["enabled"] is False
    assert point(user, "quiet.m", -5)["anomaly_id"] is None
    user.patch(f"{RULES}/{rule['id']}", {"enabled": True})
    hit = point(user, "quiet.m", -6, offset=1)
    assert (hit["type"], hit["severity"]) == ("threshold", "warning")
    listed = user.get("/v1/anomalies", metric="quiet.m").json()["data"]
    assert [a["rule_id"] for a in listed] == [rule["id"]]


def test_a_patched_threshold_takes_effect_on_the_next_point(user):
    rule = create_rule(user, "moving", "moving.m", "greater_than", 100, "info")
    assert point(user, "moving.m", 120)["severity"] == "info"
    user.patch(f"{RULES}/{rule['id']}", {"condition": {"threshold": 200}, "severity": "critical"})
    assert point(user, "moving.m", 150, offset=1)["anomaly_id"] is None
    assert point(user, "moving.m", 250, offset=2)["severity"] == "critical"


def test_text_no_store_can_hold_is_400_not_a_server_error(user):
    for raw, field in (
        ('{"name": "a\\u0000", "condition": {"metric": "m", "operator": "equal", "threshold": 1}}', "name"),
        (
            '{"name": "n", "condition": {"metric": "m", "operator": "equal", "threshold": 1}, '
            '"scope": {"tags": {"k": "\\ud800"}}}',
            "scope.tags",
        ),
    ):
        answer = user.http.post(
            user.url(RULES), data=raw, headers={"Content-Type": "application/json"}, timeout=10
        )
        assert answer.status_code == 400 and error_of(answer)["details"]["field"] == field, raw
    assert user.get(f"{RULES}/rule_%00").status_code == 400
