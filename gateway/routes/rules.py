"""Threshold rules: `GET|POST /v1/anomalies/rules`, `GET|PATCH|DELETE /v1/anomalies/rules/{id}`.

The gateway checks every field's type and vocabulary (so nothing reaches protobuf as a wrong type);
catalog checks values (lengths, operators, finiteness, uniqueness of the name)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from anomalywatch.catalog.v1 import anomalies_pb2
from gateway import fields, render
from gateway.auth import requires
from gateway.clients import call_as_caller
from gateway.request_io import json_object, page_request, pagination

bp = Blueprint("rules", __name__)
FIELDS = ("name", "description", "condition", "severity", "scope", "enabled")
CONDITION_FIELDS = ("metric", "operator", "threshold")
SCOPE_HINT = 'scope must be "global" or {"tags": {"<key>": "<value>", ...}}'


def _call(method, message):
    return call_as_caller("rules", method, message)


def _condition(value: Any, partial: bool) -> dict[str, Any]:
    """The condition's given fields, typed; on create all three are required."""
    if not isinstance(value, dict):
        raise fields.invalid("condition", "condition must be an object {metric, operator, threshold}")
    fields.only_known(value, CONDITION_FIELDS, prefix="condition.")
    given = {k: v for k, v in value.items() if v is not None}
    if not partial:
        for name in CONDITION_FIELDS:
            if name not in given:
                raise fields.invalid(f"condition.{name}", f"condition.{name} is required")
    typed: dict[str, Any] = {}
    for name in ("metric", "operator"):
        if name in given:
            typed[name] = fields.string(given[name], f"condition.{name}")
    if "threshold" in given:
        typed["threshold"] = fields.number(given["threshold"], "condition.threshold")
    return typed


def _scope_tags(value: Any) -> dict[str, str]:
    """`"global"` is no tags; `{"tags": {...}}` the tags a series must have."""
    if value == "global":
        return {}
    if not isinstance(value, dict) or set(value) != {"tags"}:
        raise fields.invalid("scope", SCOPE_HINT)
    return fields.string_map(value["tags"], "scope.tags")


def _body(partial: bool) -> dict[str, Any]:
    """The request's fields, typed; null counts as absent."""
    body = json_object()
    fields.only_known(body, FIELDS)
    given = {k: v for k, v in body.items() if v is not None}
    if not partial and "condition" not in given:
        raise fields.invalid("condition", "condition is required: {metric, operator, threshold}")
    typed: dict[str, Any] = {}
    for name in ("name", "description"):
        if name in given:
            typed[name] = fields.string(given[name], name)
    if "condition" in given:
        typed["condition"] = _condition(given["condition"], partial)
    if "severity" in given:
        typed["severity"] = fields.word(given["severity"], "severity", fields.SEVERITY_WORDS)
    if "scope" in given:
        typed["scope_tags"] = _scope_tags(given["scope"])
    if "enabled" in given:
        typed["enabled"] = fields.boolean(given["enabled"], "enabled")
    return typed


@bp.get("/v1/anomalies/rules")
@requires("read")
def list_rules():
    fields.only_known_params(fields.PAGE_PARAMS)
    answer = _call("ListRules", anomalies_pb2.ListRulesRequest(page=page_request()))
    return jsonify({"data": [render.rule(r) for r in answer.rules], "pagination": pagination(answer.page)})


@bp.post("/v1/anomalies/rules")
@requires("write")
def create_rule():
    typed = _body(partial=False)
    rule = anomalies_pb2.Rule(
        name=typed.get("name", ""), description=typed.get("description", ""),
        condition=anomalies_pb2.RuleCondition(**typed["condition"]), severity=typed.get("severity", 0),
        scope_tags=typed.get("scope_tags", {}), enabled=typed.get("enabled", True))
    answer = _call("CreateRule", anomalies_pb2.CreateRuleRequest(rule=rule))
    response = jsonify({"data": render.rule(answer.rule)})
    response.status_code = 201
    return response


@bp.get("/v1/anomalies/rules/<rule_id>")
@requires("read")
def get_rule(rule_id: str):
    answer = _call("GetRule", anomalies_pb2.GetRuleRequest(rule_id=fields.path_id(rule_id, "rule_id")))
    return jsonify({"data": render.rule(answer.rule)})


@bp.patch("/v1/anomalies/rules/<rule_id>")
@requires("write")
def update_rule(rule_id: str):
    typed = _body(partial=True)
    plain = {k: v for k, v in typed.items() if k in ("name", "description", "severity", "enabled")}
    patch = anomalies_pb2.RulePatch(**plain, **typed.get("condition", {}))
    if "scope_tags" in typed:
        patch.set_scope = True
        patch.scope_tags.update(typed["scope_tags"])
    message = anomalies_pb2.UpdateRuleRequest(rule_id=fields.path_id(rule_id, "rule_id"), patch=patch)
    answer = _call("UpdateRule", message)
    return jsonify({"data": render.rule(answer.rule)})


@bp.delete("/v1/anomalies/rules/<rule_id>")
@requires("write")
def delete_rule(rule_id: str):
    _call("DeleteRule", anomalies_pb2.DeleteRuleRequest(rule_id=fields.path_id(rule_id, "rule_id")))
    return "", 204
