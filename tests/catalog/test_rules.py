"""Threshold rule CRUD on SQLite and PostgreSQL: validation, uniqueness, PATCH merge, scoping."""
from __future__ import annotations

import json
import math
from contextlib import contextmanager

import pytest

from services.catalog import rules
from services.catalog.models import Anomaly, Rule
from services.catalog.rules import RulePatch, RuleSpec
from services.common.errors import ServiceError

from .conftest import T0

SPEC = RuleSpec(name="high-cost-alert", description="Alert when daily cost exceeds $100",
                metric="daily_cost_usd", operator="greater_than", threshold=100, severity="high")


def create(db, scope, spec=SPEC, now=T0):
    with db.transaction() as session:
        return rules.create(session, scope, spec, now)


def patch(db, scope, rule_id, now=T0 + 10, **fields):
    with db.transaction() as session:
        return rules.update_rule(session, scope, rule_id, RulePatch(**fields), now)


@contextmanager
def fails(code, field=None):
    with pytest.raises(ServiceError) as caught:
        yield
    assert caught.value.code == code, caught.value.message
    if field is not None:
        assert caught.value.details["field"] == field


def test_create_stores_meshai_severity_as_ours_and_defaults(db, seed):
    scope = seed.scope()
    rule = create(db, scope)
    assert rule.id.startswith("rule_")
    with db.read() as session:
        stored = session.get(Rule, rule.id)
        assert (stored.name, stored.metric, stored.operator, stored.threshold, stored.severity,
                stored.enabled) == ("high-cost-alert", "daily_cost_usd", "greater_than", 100.0, "critical",
                                    True)
        assert json.loads(stored.scope_tags_json) == {} and stored.created_at == stored.updated_at == T0
    unrated = create(db, scope, RuleSpec(name="b", metric="x", operator="less_than", threshold=1))
    assert unrated.severity == "warning"
    scoped = create(db, scope, RuleSpec(name="c", metric="api.*", operator="equal", threshold=0,
                                        severity="low", scope_tags={"env": "prod", "région": "île"},
                                        enabled=False))
    assert (scoped.severity, rules.scope_tags_of(scoped), scoped.enabled) == (
        "info", {"env": "prod", "région": "île"}, False)


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": ""}, "name"), ({"name": "   "}, "name"), ({"name": "n" * 256}, "name"),
    ({"description": "d" * 2001}, "description"),
    ({"metric": ""}, "condition.metric"), ({"metric": "api requests"}, "condition.metric"),
    ({"metric": "api.$"}, "condition.metric"), ({"metric": "m" * 256}, "condition.metric"),
    ({"metric": "api.*\n"}, "condition.metric"), ({"metric": "api\x00"}, "condition.metric"),
    ({"operator": "gt"}, "condition.operator"), ({"operator": ""}, "condition.operator"),
    ({"threshold": math.nan}, "condition.threshold"), ({"threshold": math.inf}, "condition.threshold"),
    ({"threshold": True}, "condition.threshold"), ({"threshold": "100"}, "condition.threshold"),
    ({"severity": "urgent"}, "severity"), ({"scope_tags": {"k": 1}}, "scope.tags"),
    ({"scope_tags": {f"k{i}": "v" for i in range(33)}}, "scope.tags"), ({"scope_tags": "global"}, "scope"),
    ({"name": "a\x00b"}, "name"), ({"description": "d\x00"}, "description"),
    ({"scope_tags": {"k\x00": "v"}}, "scope.tags"), ({"scope_tags": {"k": "v\x00"}}, "scope.tags"),
])
def test_create_validation_names_the_field(db, seed, changes, field):
    scope = seed.scope()
    values = {**SPEC.__dict__, **changes}
    with fails("VALIDATION_ERROR", field), db.transaction() as session:
        rules.create(session, scope, RuleSpec(**values), T0)
    with db.read() as session:
        assert rules.list_rules(session, scope, 0, 50)[1] == 0


def test_limits_are_inclusive_and_globs_and_the_whole_alphabet_are_accepted(db, seed):
    scope = seed.scope()
    rule = create(db, scope, RuleSpec(name="n" * 255, description="d" * 2000, metric="a-Z_0.9:/x*?[ab]",
                                      operator="not_equal", threshold=-1e300, severity="critical"))
    assert rule.metric == "a-Z_0.9:/x*?[ab]" and len(rule.name) == 255
    padded = create(db, scope, RuleSpec(name="  padded  ", metric="m", operator="equal", threshold=0))
    assert padded.name == "padded"
    with pytest.raises(ServiceError) as caught:
        create(db, scope, RuleSpec(name="x", metric="m", operator="gt", threshold=0))
    assert caught.value.details["allowed"] == list(rules.OPERATORS)


def test_duplicate_name_conflicts_per_account_and_environment(db, seed):
    scope = seed.scope()
    create(db, scope)
    with fails("CONFLICT", "name"):
        create(db, scope)
    create(db, seed.scope("test", scope.account_id))  # same name, other environment
    create(db, seed.scope())  # same name, other account


def test_list_by_name_with_total_and_paging(db, seed):
    scope = seed.scope()
    for name in ("charlie", "alpha", "delta", "bravo"):
        create(db, scope, RuleSpec(name=name, metric="m", operator="equal", threshold=1))
    create(db, seed.scope(), RuleSpec(name="aaa-other-account", metric="m", operator="equal", threshold=1))
    with db.read() as session:
        first, total = rules.list_rules(session, scope, 0, 3)
        rest, _ = rules.list_rules(session, scope, 3, 3)
        beyond, total_beyond = rules.list_rules(session, scope, 10, 3)
    assert [r.name for r in first] == ["alpha", "bravo", "charlie"] and total == 4
    assert [r.name for r in rest] == ["delta"] and (beyond, total_beyond) == ([], 4)


def test_patch_merges_a_partial_condition(db, seed):
    scope = seed.scope()
    rule = create(db, scope)
    updated = patch(db, scope, rule.id, threshold=150)
    assert (updated.metric, updated.operator, updated.threshold, updated.severity, updated.name) == (
        "daily_cost_usd", "greater_than", 150.0, "critical", "high-cost-alert")
    assert (updated.created_at, updated.updated_at) == (T0, T0 + 10)
    updated = patch(db, scope, rule.id, now=T0 + 20, operator="less_than", severity="medium",
                    scope_tags={"env": "prod"}, description="", enabled=False)
    assert (updated.operator, updated.threshold, updated.severity, rules.scope_tags_of(updated),
            updated.description, updated.enabled) == (
        "less_than", 150.0, "warning", {"env": "prod"}, "", False)
    assert rules.scope_tags_of(patch(db, scope, rule.id, scope_tags={})) == {}


def test_patch_with_no_change_keeps_updated_at_and_a_bad_field_changes_nothing(db, seed):
    scope = seed.scope()
    rule = create(db, scope)
    assert patch(db, scope, rule.id, threshold=100.0, name="high-cost-alert").updated_at == T0
    with fails("VALIDATION_ERROR", "condition.threshold"):
        patch(db, scope, rule.id, name="renamed", threshold=math.nan)
    with db.read() as session:
        assert session.get(Rule, rule.id).name == "high-cost-alert"


def test_patch_rename_conflicts_and_renaming_to_itself_does_not(db, seed):
    scope = seed.scope()
    first = create(db, scope)
    second = create(db, scope, RuleSpec(name="other", metric="m", operator="equal", threshold=1))
    with fails("CONFLICT", "name"):
        patch(db, scope, second.id, name="high-cost-alert")
    assert patch(db, scope, first.id, name="high-cost-alert", threshold=7).threshold == 7.0


def test_other_account_environment_and_unknown_ids_are_not_found(db, seed):
    scope = seed.scope()
    rule = create(db, scope)
    for other in (seed.scope(), seed.scope("test", scope.account_id)):
        for action in (lambda s, o=other: rules.get(s, o, rule.id),
                       lambda s, o=other: rules.update_rule(s, o, rule.id, RulePatch(threshold=1), T0),
                       lambda s, o=other: rules.delete(s, o, rule.id, T0)):
            with fails("RULE_NOT_FOUND"), db.transaction() as session:
                action(session)
    with fails("RULE_NOT_FOUND"), db.read() as session:
        rules.get(session, scope, "rule_unknown000000000")
    with db.read() as session:
        assert rules.get(session, scope, rule.id).threshold == 100.0


def test_delete_keeps_anomalies_and_ends_open_episodes(db, seed):
    scope = seed.scope()
    rule = create(db, scope)
    series = seed.series(scope, "daily_cost_usd")
    fired = {"type": "threshold", "source": rule.id, "rule_id": rule.id}
    open_id = seed.anomaly(scope, series, "daily_cost_usd", detected_at=T0, **fired)
    ended_id = seed.anomaly(scope, series, "daily_cost_usd", detected_at=T0 - 100, ended_at=T0 - 50, **fired)
    with db.transaction() as session:
        rules.delete(session, scope, rule.id, T0 + 99)
    with db.read() as session:
        assert session.get(Rule, rule.id) is None
        kept = session.get(Anomaly, open_id)
        assert (kept.rule_id, kept.ended_at, kept.status) == (rule.id, T0 + 99, "active")
        assert session.get(Anomaly, ended_id).ended_at == T0 - 50
    with fails("RULE_NOT_FOUND"), db.transaction() as session:
        rules.delete(session, scope, rule.id, T0 + 100)


def test_disabling_or_retargeting_ends_open_episodes_but_a_threshold_change_does_not(db, seed):
    scope = seed.scope()
    rule = create(db, scope)
    series = seed.series(scope, "daily_cost_usd")
    anomaly_id = seed.anomaly(scope, series, "daily_cost_usd", type="threshold", source=rule.id,
                              rule_id=rule.id)
    patch(db, scope, rule.id, threshold=120)
    with db.read() as session:
        assert session.get(Anomaly, anomaly_id).ended_at is None
    patch(db, scope, rule.id, now=T0 + 30, enabled=False)
    with db.read() as session:
        assert session.get(Anomaly, anomaly_id).ended_at == T0 + 30


def test_a_duplicate_that_slips_past_the_check_is_a_conflict_and_the_transaction_stays_usable(
        db, seed, monkeypatch):
    """Two writers racing on one name: the unique constraint answers CONFLICT inside a savepoint."""
    scope = seed.scope()
    create(db, scope)
    monkeypatch.setattr(rules, "_name_taken", lambda *args, **kwargs: False)
    with db.transaction() as session:
        with fails("CONFLICT", "name"):
            rules.create(session, scope, SPEC, T0)
        after = RuleSpec(name="after", metric="m", operator="equal", threshold=1)
        kept = rules.create(session, scope, after, T0)
    with db.read() as session:
        assert [r.name for r in rules.list_rules(session, scope, 0, 50)[0]] == ["after", "high-cost-alert"]
        assert rules.get(session, scope, kept.id).name == "after"


def test_a_rename_that_slips_past_the_check_is_a_conflict_and_changes_nothing(db, seed, monkeypatch):
    scope = seed.scope()
    create(db, scope)
    other = create(db, scope, RuleSpec(name="other", metric="m", operator="equal", threshold=1))
    monkeypatch.setattr(rules, "_name_taken", lambda *args, **kwargs: False)
    with db.transaction() as session:
        with fails("CONFLICT", "name"):
            rules.update_rule(session, scope, other.id, RulePatch(name="high-cost-alert", threshold=5),
                              T0 + 1)
        assert rules.get(session, scope, other.id).threshold == 1.0
    with db.read() as session:
        assert (rules.get(session, scope, other.id).name, rules.get(session, scope, other.id).updated_at) == (
            "other", T0)
