"""AnomalyService and RuleService over gRPC (thin: key -> scope, domain call, proto out)."""
from __future__ import annotations

import time
from collections.abc import Callable

from anomalywatch.catalog.v1 import anomalies_pb2, anomalies_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from services.catalog import anomalies, rules
from services.catalog.configs import Scope
from services.catalog.convert import SEVERITY_FROM_PROTO, SEVERITY_TO_PROTO, TYPE_FROM_PROTO, enum_name
from services.catalog.db import Database
from services.catalog.models import Rule
from services.common import paging
from services.common.auth import Principal, PrincipalCache
from services.common.timeutil import from_timestamp, to_timestamp


def _scope(principal: Principal) -> Scope:
    return Scope(principal.account_id, principal.environment)


def _time(message, name: str) -> float | None:
    return from_timestamp(getattr(message, name)) if message.HasField(name) else None


def _detail_response(detail: anomalies.AnomalyDetail) -> anomalies_pb2.GetAnomalyResponse:
    return anomalies_pb2.GetAnomalyResponse(
        anomaly=anomalies.render_anomaly(detail.row, detail.tags, detail.events),
        history=anomalies.render_points(detail.history),
        baseline_history=anomalies.render_points(detail.baseline_history))


class AnomalyServicer(anomalies_pb2_grpc.AnomalyServiceServicer):
    def __init__(self, db: Database, principals: PrincipalCache, clock: Callable[[], float] = time.time):
        self.db, self.principals, self.clock = db, principals, clock

    def _rendered(self, session, row) -> anomalies_pb2.Anomaly:
        tags, events = anomalies.tags_and_events(session, [row])
        return anomalies.render_anomaly(row, tags.get(row.series_id, {}), events.get(row.id, []))

    def ListAnomalies(self, request, context):
        scope = _scope(self.principals.from_context(context, "read"))
        offset, limit = paging.bounds(request.page)
        filters = anomalies.AnomalyFilters(
            status=enum_name(anomalies.STATUS_FROM_PROTO, request.status, "status"),
            severity=enum_name(SEVERITY_FROM_PROTO, request.severity, "severity"),
            type=enum_name(TYPE_FROM_PROTO, request.type, "type"),
            metric=request.metric, metric_id=request.metric_id, tags=dict(request.tags),
            start=_time(request, "start_time"), end=_time(request, "end_time"))
        with self.db.read() as session:
            rows, total, counts = anomalies.list_anomalies(session, scope, filters, offset, limit)
            tags, events = anomalies.tags_and_events(session, rows)
        return anomalies_pb2.ListAnomaliesResponse(
            anomalies=[anomalies.render_anomaly(r, tags.get(r.series_id, {}), events.get(r.id, []))
                       for r in rows],
            page=paging.info(offset, limit, total),
            counts=anomalies_pb2.StatusCounts(total=sum(counts.values()), **counts))

    def GetAnomaly(self, request, context):
        scope = _scope(self.principals.from_context(context, "read"))
        with self.db.read() as session:
            return _detail_response(anomalies.get_anomaly(session, scope, request.anomaly_id))

    def AcknowledgeAnomaly(self, request, context):
        principal = self.principals.from_context(context, "write")
        with self.db.transaction() as session:
            row = anomalies.acknowledge(session, _scope(principal), request.anomaly_id, principal.key_id,
                                        request.note, self.clock())
            session.flush()
            return anomalies_pb2.AcknowledgeAnomalyResponse(anomaly=self._rendered(session, row))

    def ResolveAnomaly(self, request, context):
        principal = self.principals.from_context(context, "write")
        with self.db.transaction() as session:
            row = anomalies.resolve(session, _scope(principal), request.anomaly_id, principal.key_id,
                                    request.note, request.root_cause, self.clock())
            session.flush()
            return anomalies_pb2.ResolveAnomalyResponse(anomaly=self._rendered(session, row))

    def GetAnomalyStats(self, request, context):
        scope = _scope(self.principals.from_context(context, "read"))
        with self.db.read() as session:
            result = anomalies.stats(session, scope, _time(request, "start_time"), _time(request, "end_time"))
        response = anomalies_pb2.GetAnomalyStatsResponse(
            total=result.total, by_status=result.by_status, by_severity=result.by_severity,
            by_type=result.by_type, by_metric=result.by_metric, by_root_cause=result.by_root_cause)
        if result.mean_time_to_acknowledge is not None:
            response.mean_time_to_acknowledge_seconds = result.mean_time_to_acknowledge
        if result.mean_time_to_resolve is not None:
            response.mean_time_to_resolve_seconds = result.mean_time_to_resolve
        return response

    def GetAnomalySummary(self, request, context):
        scope = _scope(self.principals.from_context(context, "read"))
        with self.db.read() as session:
            result = anomalies.summary(session, scope)
        return anomalies_pb2.GetAnomalySummaryResponse(total=result.total, by_status=result.by_status,
                                                       by_type=result.by_type)


def render_rule(rule: Rule) -> anomalies_pb2.Rule:
    return anomalies_pb2.Rule(
        id=rule.id, name=rule.name, description=rule.description or "",
        condition=anomalies_pb2.RuleCondition(metric=rule.metric, operator=rule.operator,
                                              threshold=rule.threshold),
        severity=SEVERITY_TO_PROTO.get(rule.severity, common_pb2.SEVERITY_UNSPECIFIED),
        scope_tags=rules.scope_tags_of(rule), enabled=bool(rule.enabled),
        create_time=to_timestamp(rule.created_at), update_time=to_timestamp(rule.updated_at))


def spec_from_proto(message: anomalies_pb2.Rule) -> rules.RuleSpec:
    return rules.RuleSpec(
        name=message.name, description=message.description, metric=message.condition.metric,
        operator=message.condition.operator, threshold=message.condition.threshold,
        severity=enum_name(SEVERITY_FROM_PROTO, message.severity, "severity"),
        scope_tags=dict(message.scope_tags), enabled=message.enabled)


def patch_from_proto(message: anomalies_pb2.RulePatch) -> rules.RulePatch:
    def optional(name: str):
        return getattr(message, name) if message.HasField(name) else None

    return rules.RulePatch(
        name=optional("name"), description=optional("description"), metric=optional("metric"),
        operator=optional("operator"), threshold=optional("threshold"),
        severity=enum_name(SEVERITY_FROM_PROTO, message.severity, "severity") or None,
        enabled=optional("enabled"), scope_tags=dict(message.scope_tags) if message.set_scope else None)


class RuleServicer(anomalies_pb2_grpc.RuleServiceServicer):
    def __init__(self, db: Database, principals: PrincipalCache, clock: Callable[[], float] = time.time):
        self.db, self.principals, self.clock = db, principals, clock

    def ListRules(self, request, context):
        scope = _scope(self.principals.from_context(context, "read"))
        offset, limit = paging.bounds(request.page)
        with self.db.read() as session:
            rows, total = rules.list_rules(session, scope, offset, limit)
            return anomalies_pb2.ListRulesResponse(rules=[render_rule(r) for r in rows],
                                                   page=paging.info(offset, limit, total))

    def GetRule(self, request, context):
        scope = _scope(self.principals.from_context(context, "read"))
        with self.db.read() as session:
            return anomalies_pb2.GetRuleResponse(rule=render_rule(rules.get(session, scope, request.rule_id)))

    def CreateRule(self, request, context):
        scope = _scope(self.principals.from_context(context, "write"))
        # proto3 cannot tell an absent `enabled` from false: a rule is created enabled unless the
        # gateway passes enabled=false explicitly (it sends true when the field is missing).
        with self.db.transaction() as session:
            rule = rules.create(session, scope, spec_from_proto(request.rule), self.clock())
            return anomalies_pb2.CreateRuleResponse(rule=render_rule(rule))

    def UpdateRule(self, request, context):
        scope = _scope(self.principals.from_context(context, "write"))
        with self.db.transaction() as session:
            patch = patch_from_proto(request.patch)
            rule = rules.update_rule(session, scope, request.rule_id, patch, self.clock())
            return anomalies_pb2.UpdateRuleResponse(rule=render_rule(rule))

    def DeleteRule(self, request, context):
        scope = _scope(self.principals.from_context(context, "write"))
        with self.db.transaction() as session:
            rules.delete(session, scope, request.rule_id, self.clock())
        return anomalies_pb2.DeleteRuleResponse()
