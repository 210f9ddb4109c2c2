"""Threshold rules: validation and CRUD, scoped by account and environment. Evaluation on ingest
lives in points.py / rule_match.py; this module only keeps the rows valid."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.catalog.configs import Scope
from services.catalog.models import Anomaly, Rule
from services.catalog.rule_match import OPERATORS
from services.common.errors import ServiceError
from services.common.ids import new_id
from services.ingest.validation import storable

SEVERITIES = ("info", "warning", "critical")
# MeshAI's words, stored as ours.
SEVERITY_ALIASES = {"low": "info", "medium": "warning", "high": "critical"}
DEFAULT_SEVERITY = "warning"
MAX_NAME, MAX_DESCRIPTION, MAX_METRIC = 255, 2000, 255
MAX_SCOPE_TAGS, MAX_TAG_LENGTH = 32, 255
# The metric-name alphabet plus the glob characters; used with fullmatch (with `match`, `$`
# would also accept a final "\n").
METRIC_PATTERN = re.compile(r"[A-Za-z0-9._\-:/*?\[\]]+")


@dataclass(frozen=True)
class RuleSpec:
    """A whole rule as a client gives it on create."""
    name: str
    metric: str
    operator: str
    threshold: float
    description: str = ""
    severity: str = ""  # empty: DEFAULT_SEVERITY
    scope_tags: Mapping[str, str] = field(default_factory=dict)  # empty: global
    enabled: bool = True


@dataclass(frozen=True)
class RulePatch:
    """The fields to change; None keeps the current value. `scope_tags` {} makes the rule global."""
    name: str | None = None
    description: str | None = None
    metric: str | None = None
    operator: str | None = None
    threshold: float | None = None
    severity: str | None = None
    scope_tags: Mapping[str, str] | None = None
    enabled: bool | None = None


def _invalid(field_name: str, message: str, **extra) -> ServiceError:
    return ServiceError("VALIDATION_ERROR", message, {"field": field_name, **extra})


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise _invalid("name", "name is required")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise _invalid("name", f"name must be at most {MAX_NAME} characters")
    _check_storable("name", name)
    return name


def check_description(description: object) -> str:
    if not isinstance(description, str):
        raise _invalid("description", "description must be a string")
    if len(description) > MAX_DESCRIPTION:
        raise _invalid("description", f"description must be at most {MAX_DESCRIPTION} characters")
    _check_storable("description", description)
    return description


def _check_storable(field_name: str, *texts: str) -> None:
    # PostgreSQL refuses NUL in text (SQLite would keep it): the same answer on both
    if not all(map(storable, texts)):
        raise _invalid(field_name, f"{field_name} must be valid UTF-8 without NUL characters")


def check_metric(metric: object) -> str:
    if not isinstance(metric, str) or not metric:
        raise _invalid("condition.metric", "condition.metric is required")
    if len(metric) > MAX_METRIC:
        raise _invalid("condition.metric", f"condition.metric must be at most {MAX_METRIC} characters")
    if not METRIC_PATTERN.fullmatch(metric):
        raise _invalid("condition.metric", "condition.metric may contain letters, digits, `._-:/` and the "
                       "glob characters `*?[]`",
                       suggestion="an exact name like api.requests or a glob like api.*")
    return metric


def check_operator(operator: object) -> str:
    if operator not in OPERATORS:
        raise _invalid("condition.operator", f"unknown operator {operator!r}", allowed=list(OPERATORS))
    return str(operator)


def check_threshold(threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise _invalid("condition.threshold", "condition.threshold must be a finite number")
    return float(threshold)


def check_severity(severity: object) -> str:
    word = SEVERITY_ALIASES.get(severity, severity) if isinstance(severity, str) else severity
    if word not in SEVERITIES:
        raise _invalid("severity", f"unknown severity {severity!r}",
                       allowed=[*SEVERITIES, *SEVERITY_ALIASES])
    return str(word)


def check_scope_tags(tags: object) -> dict[str, str]:
    if not isinstance(tags, Mapping):
        raise _invalid("scope", 'scope must be "global" or {"tags": {...}}')
    if len(tags) > MAX_SCOPE_TAGS:
        raise _invalid("scope.tags", f"scope.tags may have at most {MAX_SCOPE_TAGS} tags")
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            raise _invalid("scope.tags", "scope tags must map non-empty string keys to string values")
        if len(key) > MAX_TAG_LENGTH or len(value) > MAX_TAG_LENGTH:
            raise _invalid("scope.tags", f"scope tag keys and values must be at most {MAX_TAG_LENGTH} "
                           "characters", tag=key[:MAX_TAG_LENGTH])
        _check_storable("scope.tags", key, value)  # a series' tags never hold NUL: it could not match
    return dict(tags)


def scope_tags_of(rule: Rule) -> dict[str, str]:
    return json.loads(rule.scope_tags_json or "{}")


def _dump_tags(tags: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(tags.items())), separators=(",", ":"), ensure_ascii=False)


def _scoped(scope: Scope):
    return (Rule.account_id == scope.account_id, Rule.environment == scope.environment)


def _conflict(name: str) -> ServiceError:
    return ServiceError("CONFLICT", f"a rule named {name!r} already exists", {"field": "name", "name": name})


def _name_taken(session: Session, scope: Scope, name: str, except_id: str | None = None) -> bool:
    query = select(Rule.id).where(*_scoped(scope), Rule.name == name)
    if except_id:
        query = query.where(Rule.id != except_id)
    return session.scalar(query.limit(1)) is not None


def _write_unique(session: Session, name: str, apply: Callable[[], None]) -> None:
    """Applies and flushes a change in a savepoint, so a concurrent writer's duplicate name answers
    CONFLICT and leaves the transaction usable (PostgreSQL aborts a transaction on a failed
    statement). The change is made inside the savepoint: begin_nested() flushes what is pending."""
    try:
        with session.begin_nested():
            apply()
            session.flush()
    except IntegrityError as error:
        raise _conflict(name) from error


def create(session: Session, scope: Scope, spec: RuleSpec, now: float) -> Rule:
    name = check_name(spec.name)
    rule = Rule(id=new_id("rule"), account_id=scope.account_id, environment=scope.environment, name=name,
                description=check_description(spec.description), metric=check_metric(spec.metric),
                operator=check_operator(spec.operator), threshold=check_threshold(spec.threshold),
                severity=check_severity(spec.severity or DEFAULT_SEVERITY),
                scope_tags_json=_dump_tags(check_scope_tags(spec.scope_tags)), enabled=bool(spec.enabled),
                created_at=now, updated_at=now)
    if _name_taken(session, scope, name):
        raise _conflict(name)
    _write_unique(session, name, lambda: session.add(rule))
    return rule


def list_rules(session: Session, scope: Scope, offset: int, limit: int) -> tuple[list[Rule], int]:
    """A page of rules by name, and how many there are."""
    total = session.scalar(select(func.count()).select_from(Rule).where(*_scoped(scope))) or 0
    rows = session.scalars(select(Rule).where(*_scoped(scope)).order_by(Rule.name, Rule.id)
                           .offset(offset).limit(limit)).all() if offset < total else []
    return list(rows), total


def get(session: Session, scope: Scope, rule_id: str, for_update: bool = False) -> Rule:
    """The rule of this scope; another account's or environment's id is not found, like an unknown one."""
    query = select(Rule).where(Rule.id == rule_id, *_scoped(scope))
    rule = session.scalars(query.with_for_update() if for_update else query).one_or_none()
    if rule is None:
        raise ServiceError("RULE_NOT_FOUND", f"rule {rule_id} does not exist", {"rule_id": rule_id})
    return rule


def end_open_episodes(session: Session, rule_id: str, now: float) -> int:
    """Ends the rule's open threshold episodes: nothing will evaluate (and so end) them any more
    once the rule is deleted, disabled or pointed at other series. Their status is untouched."""
    result = session.execute(update(Anomaly).where(Anomaly.source == rule_id, Anomaly.ended_at.is_(None))
                             .values(ended_at=now).execution_options(synchronize_session=False))
    return result.rowcount or 0


def update_rule(session: Session, scope: Scope, rule_id: str, patch: RulePatch, now: float) -> Rule:
    """Merges `patch` into the rule (a partial condition keeps the other condition fields)."""
    # Validate everything before touching the row, so a bad field changes nothing.
    changes: dict[str, object] = {}
    if patch.name is not None:
        changes["name"] = check_name(patch.name)
    if patch.description is not None:
        changes["description"] = check_description(patch.description)
    if patch.metric is not None:
        changes["metric"] = check_metric(patch.metric)
    if patch.operator is not None:
        changes["operator"] = check_operator(patch.operator)
    if patch.threshold is not None:
        changes["threshold"] = check_threshold(patch.threshold)
    if patch.severity is not None:
        changes["severity"] = check_severity(patch.severity)
    if patch.scope_tags is not None:
        changes["scope_tags_json"] = _dump_tags(check_scope_tags(patch.scope_tags))
    if patch.enabled is not None:
        changes["enabled"] = bool(patch.enabled)
    rule = get(session, scope, rule_id, for_update=True)
    name = changes.get("name")
    if isinstance(name, str) and name != rule.name and _name_taken(session, scope, name, except_id=rule.id):
        raise _conflict(name)
    changed = {k: v for k, v in changes.items() if getattr(rule, k) != v}
    if not changed:
        return rule
    stops_watching = (changed.get("enabled") is False or "metric" in changed or "scope_tags_json" in changed)

    def apply() -> None:
        for key, value in changed.items():
            setattr(rule, key, value)
        rule.updated_at = now

    _write_unique(session, str(changed.get("name", rule.name)), apply)
    if stops_watching:
        end_open_episodes(session, rule.id, now)
    return rule


def delete(session: Session, scope: Scope, rule_id: str, now: float) -> None:
    """Deletes the rule; its anomalies are kept (ended if still open)."""
    rule = get(session, scope, rule_id, for_update=True)
    end_open_episodes(session, rule.id, now)
    session.delete(rule)
    session.flush()
