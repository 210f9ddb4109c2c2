"""AnomalyService and RuleService through a real in-process gRPC server: keys, scopes, status
codes with ErrorInfo reasons, paging, filters, and stats on a hand-made data set."""
from __future__ import annotations

import base64

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from anomalywatch.catalog.v1 import anomalies_pb2, anomalies_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from services.catalog.anomaly_servicer import AnomalyServicer, RuleServicer
from services.common.auth import PrincipalCache, generate_key
from services.common.errors import MAX_ECHO_CHARS, ServiceError, from_rpc_error
from services.common.grpc_server import ServiceSpec, create_server

from .conftest import T0

NOW = T0 + 10_000


@pytest.fixture
def channel(db, keys):
    principals = PrincipalCache(keys.lookup)

    def register(server):
        anomalies_pb2_grpc.add_AnomalyServiceServicer_to_server(
            AnomalyServicer(db, principals, lambda: NOW), server)
        anomalies_pb2_grpc.add_RuleServiceServicer_to_server(
            RuleServicer(db, principals, lambda: NOW), server)

    names = [anomalies_pb2.DESCRIPTOR.services_by_name[n].full_name
             for n in ("AnomalyService", "RuleService")]
    server, port, _ = create_server(ServiceSpec(name="catalog-test", register=register, service_names=names,
                                                max_workers=4), "127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    server.stop(None).wait()


class Client:
    def __init__(self, channel, key):
        self.anomalies = anomalies_pb2_grpc.AnomalyServiceStub(channel)
        self.rules = anomalies_pb2_grpc.RuleServiceStub(channel)
        self.metadata = (("authorization", f"Bearer {key}"),) if key else ()

    def __call__(self, method: str, request):
        stub = self.rules if "Rule" in method else self.anomalies
        return getattr(stub, method)(request, metadata=self.metadata, timeout=10)

    def error(self, method: str, request) -> tuple[grpc.StatusCode, ServiceError]:
        with pytest.raises(grpc.RpcError) as caught:
            self(method, request)
        return caught.value.code(), from_rpc_error(caught.value)


def ts(seconds: float) -> Timestamp:
    message = Timestamp()
    message.FromSeconds(int(seconds))
    return message


@pytest.fixture
def data(seed, keys, channel):
    """Seven anomalies of one account (detected a minute apart) plus one in its test environment
    and one in another account; a client with read+write and one with read only."""
    scope = seed.scope()
    api = seed.series(scope, "api.requests", {"host": "a"})
    orders = seed.series(scope, "orders.count", {"host": "b"})
    mine = []
    for i in range(7):
        series, metric = (api, "api.requests") if i % 2 == 0 else (orders, "orders.count")
        mine.append(seed.anomaly(scope, series, metric, detected_at=T0 + 60 * i,
                                 severity=("info", "warning", "critical")[i % 3]))
    test_scope = seed.scope("test", scope.account_id)
    test_id = seed.anomaly(test_scope, seed.series(test_scope), detected_at=T0)
    other = seed.scope()
    other_id = seed.anomaly(other, seed.series(other), detected_at=T0)
    return {"scope": scope, "ids": mine, "test_id": test_id, "other_id": other_id, "api": api,
            "rw": Client(channel, keys.make(scope)), "ro": Client(channel, keys.make(scope, ("read",))),
            "test_key": Client(channel, keys.make(test_scope)), "channel": channel, "keys": keys}


def test_list_pages_with_tokens_and_offsets(data):
    rw, ids = data["rw"], data["ids"]
    first = rw("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(page=common_pb2.PageRequest(page_size=3)))
    assert [a.id for a in first.anomalies] == ids[::-1][:3]
    assert (first.page.total_size, first.page.offset, first.page.page_size) == (7, 0, 3)
    assert first.counts == anomalies_pb2.StatusCounts(total=7, active=7)
    second = rw("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(
        page=common_pb2.PageRequest(page_size=3, page_token=first.page.next_page_token)))
    assert [a.id for a in second.anomalies] == ids[::-1][3:6] and second.page.offset == 3
    last = rw("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(
        page=common_pb2.PageRequest(page_size=3, offset=6)))
    assert [a.id for a in last.anomalies] == [ids[0]] and last.page.next_page_token == ""
    default = rw("ListAnomalies", anomalies_pb2.ListAnomaliesRequest())
    assert default.page.page_size == 50 and len(default.anomalies) == 7
    capped = rw("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(
        page=common_pb2.PageRequest(page_size=5000)))
    assert capped.page.page_size == 1000
    code, error = rw.error("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(
        page=common_pb2.PageRequest(page_size=-1)))
    assert (code, error.code) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_ERROR")
    code, error = rw.error("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(
        page=common_pb2.PageRequest(page_token="not-a-token")))
    assert (code, error.details["field"]) == (grpc.StatusCode.INVALID_ARGUMENT, "page_token")


def test_list_filters_and_the_test_environment_sees_only_its_own(data):
    rw, ids = data["rw"], data["ids"]

    def listed(**fields):
        return [a.id for a in rw("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(**fields)).anomalies]

    assert listed(severity=common_pb2.SEVERITY_CRITICAL) == [ids[5], ids[2]]
    assert listed(metric="orders.count") == [ids[5], ids[3], ids[1]]
    assert listed(metric_id=data["api"], tags={"host": "a"}) == [ids[6], ids[4], ids[2], ids[0]]
    assert listed(tags={"host": "zzz"}) == []
    assert listed(start_time=ts(T0 + 60), end_time=ts(T0 + 180)) == [ids[3], ids[2], ids[1]]
    assert listed(type=common_pb2.ANOMALY_TYPE_DROP) == []
    assert listed(status=anomalies_pb2.ANOMALY_STATUS_RESOLVED) == []
    in_test = data["test_key"]("ListAnomalies", anomalies_pb2.ListAnomaliesRequest())
    assert [a.id for a in in_test.anomalies] == [data["test_id"]]


@pytest.mark.parametrize("field", ["status", "severity", "type"])
def test_an_enum_filter_this_release_does_not_know_is_refused_not_ignored(data, field):
    code, error = data["rw"].error("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(**{field: 99}))
    assert (code, error.code, error.details["field"]) == (
        grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_ERROR", field)


def test_get_answers_not_found_for_other_accounts_and_environments(data):
    rw = data["rw"]
    got = rw("GetAnomaly", anomalies_pb2.GetAnomalyRequest(anomaly_id=data["ids"][0]))
    assert got.anomaly.id == data["ids"][0] and dict(got.anomaly.tags) == {"host": "a"}
    for anomaly_id in (data["other_id"], data["test_id"], "anom_nope"):
        for method, request in (
                ("GetAnomaly", anomalies_pb2.GetAnomalyRequest(anomaly_id=anomaly_id)),
                ("AcknowledgeAnomaly", anomalies_pb2.AcknowledgeAnomalyRequest(anomaly_id=anomaly_id)),
                ("ResolveAnomaly", anomalies_pb2.ResolveAnomalyRequest(anomaly_id=anomaly_id))):
            code, error = rw.error(method, request)
            assert (code, error.code, error.details) == (
                grpc.StatusCode.NOT_FOUND, "ANOMALY_NOT_FOUND", {"anomaly_id": anomaly_id})


def test_a_huge_unknown_id_is_not_found_with_the_echo_cut_short(data):
    # Echoed whole, the id in the message and the details overflows gRPC's 8 KiB of metadata and
    # the caller saw the transport's RESOURCE_EXHAUSTED instead of NOT_FOUND.
    huge = "anom_" + "x" * 20_000
    code, error = data["rw"].error("GetAnomaly", anomalies_pb2.GetAnomalyRequest(anomaly_id=huge))
    assert (code, error.code) == (grpc.StatusCode.NOT_FOUND, "ANOMALY_NOT_FOUND")
    echoed = error.details["anomaly_id"]
    assert echoed.startswith("anom_xxx") and len(echoed) <= MAX_ECHO_CHARS + 1 and len(error.message) < 300


def test_get_carries_history_and_baseline_history(data, seed):
    scope, rw = data["scope"], data["rw"]
    sid = seed.series(scope, "cpu", step=60.0)
    seed.points(sid, [(T0 - 2 * 86400 + 60.0 * i, float(i)) for i in range(2 * 1440 + 100)])
    anomaly_id = seed.anomaly(scope, sid, "cpu", detected_at=T0, started_at=T0, last_seen_at=T0 + 60)
    got = rw("GetAnomaly", anomalies_pb2.GetAnomalyRequest(anomaly_id=anomaly_id))
    history = [(p.time.seconds, p.value) for p in got.history]
    assert history[0][0] == T0 - 600 and history[-1][0] == T0 + 660 and len(history) == 22
    assert [p.time.seconds for p in got.baseline_history] == [t - 86400 for t, _ in history]


def test_acknowledge_and_resolve_need_write_and_resolved_is_failed_precondition(data):
    rw, ro, target = data["rw"], data["ro"], data["ids"][0]
    code, error = ro.error("AcknowledgeAnomaly", anomalies_pb2.AcknowledgeAnomalyRequest(anomaly_id=target))
    assert (code, error.code, error.details["required_scope"]) == (
        grpc.StatusCode.PERMISSION_DENIED, "FORBIDDEN", "write")
    acked = rw("AcknowledgeAnomaly", anomalies_pb2.AcknowledgeAnomalyRequest(anomaly_id=target, note="on it"))
    assert acked.anomaly.status == anomalies_pb2.ANOMALY_STATUS_ACKNOWLEDGED
    assert acked.anomaly.acknowledge_time.seconds == int(NOW) and acked.anomaly.note == "on it"
    assert acked.anomaly.acknowledged_by == "key_0000000000000000"
    again = rw("AcknowledgeAnomaly", anomalies_pb2.AcknowledgeAnomalyRequest(anomaly_id=target, note="x"))
    assert again.anomaly == acked.anomaly
    code, error = rw.error("ResolveAnomaly", anomalies_pb2.ResolveAnomalyRequest(anomaly_id=target,
                                                                                  root_cause="gremlins"))
    assert (code, error.code, error.details["field"]) == (
        grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_ERROR", "root_cause")
    assert "deployment" in error.details["allowed"]
    resolved = rw("ResolveAnomaly", anomalies_pb2.ResolveAnomalyRequest(anomaly_id=target, note="rolled back",
                                                                         root_cause="deployment"))
    assert (resolved.anomaly.status, resolved.anomaly.root_cause, resolved.anomaly.note) == (
        anomalies_pb2.ANOMALY_STATUS_RESOLVED, "deployment", "rolled back")
    assert [e.action for e in resolved.anomaly.events] == ["acknowledge", "resolve"]
    for method, request in (
            ("ResolveAnomaly", anomalies_pb2.ResolveAnomalyRequest(anomaly_id=target)),
            ("AcknowledgeAnomaly", anomalies_pb2.AcknowledgeAnomalyRequest(anomaly_id=target))):
        with pytest.raises(grpc.RpcError) as caught:
            rw(method, request)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert from_rpc_error(caught.value).code == "ALREADY_RESOLVED"


def test_missing_unknown_and_underscoped_keys(data, keys, channel):
    request = anomalies_pb2.ListAnomaliesRequest()
    for client in (Client(channel, None), Client(channel, generate_key("live"))):
        code, error = client.error("ListAnomalies", request)
        assert (code, error.code) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHORIZED")
    ingest_only = Client(channel, keys.make(data["scope"], ("ingest",)))
    for method, req in (("ListAnomalies", request),
                        ("GetAnomalySummary", anomalies_pb2.GetAnomalySummaryRequest()),
                        ("ListRules", anomalies_pb2.ListRulesRequest())):
        code, error = ingest_only.error(method, req)
        assert (code, error.code) == (grpc.StatusCode.PERMISSION_DENIED, "FORBIDDEN")


def test_stats_and_summary_by_hand(data, seed):
    """In a fresh account: detected at 0, 100, 200, 300; acknowledged after 30 and 90 s (the second
    later resolved after 400 s), another resolved after 1000 s: MTTA 60 s, MTTR 700 s."""
    scope = seed.scope()
    s = seed.series(scope, "cpu")
    seed.anomaly(scope, s, "cpu", detected_at=T0, status="acknowledged", acknowledged_at=T0 + 30)
    seed.anomaly(scope, s, "cpu", detected_at=T0 + 100, status="resolved", acknowledged_at=T0 + 190,
                 resolved_at=T0 + 500, root_cause="bug", type="drop")
    seed.anomaly(scope, s, "cpu", detected_at=T0 + 200, status="resolved", resolved_at=T0 + 1200,
                 root_cause="other", severity="critical")
    seed.anomaly(scope, s, "cpu", detected_at=T0 + 300)
    client = Client(data["channel"], data["keys"].make(scope))
    result = client("GetAnomalyStats", anomalies_pb2.GetAnomalyStatsRequest())
    assert result.total == 4
    assert dict(result.by_status) == {"active": 1, "acknowledged": 1, "resolved": 2}
    assert dict(result.by_type) == {"spike": 3, "drop": 1}
    assert dict(result.by_severity) == {"warning": 3, "critical": 1}
    assert dict(result.by_metric) == {"cpu": 4} and dict(result.by_root_cause) == {"bug": 1, "other": 1}
    assert result.mean_time_to_acknowledge_seconds == pytest.approx(60.0)
    assert result.mean_time_to_resolve_seconds == pytest.approx(700.0)
    window = client("GetAnomalyStats", anomalies_pb2.GetAnomalyStatsRequest(start_time=ts(T0 + 250)))
    assert window.total == 1
    assert not window.HasField("mean_time_to_acknowledge_seconds")
    assert not window.HasField("mean_time_to_resolve_seconds")
    summary = client("GetAnomalySummary", anomalies_pb2.GetAnomalySummaryRequest())
    assert (summary.total, dict(summary.by_status), dict(summary.by_type)) == (
        4, {"active": 1, "acknowledged": 1, "resolved": 2}, {"spike": 3, "drop": 1})


def rule_message(**overrides) -> anomalies_pb2.Rule:
    fields = dict(name="high-latency", description="p99 above 500 ms",
                  condition=anomalies_pb2.RuleCondition(metric="api.*", operator="greater_than",
                                                        threshold=500),
                  severity=common_pb2.SEVERITY_CRITICAL, scope_tags={"env": "prod"}, enabled=True)
    fields.update(overrides)
    return anomalies_pb2.Rule(**fields)


def test_rule_crud(data):
    rw, ro = data["rw"], data["ro"]
    created = rw("CreateRule", anomalies_pb2.CreateRuleRequest(rule=rule_message())).rule
    assert created.id.startswith("rule_") and created.create_time.seconds == int(NOW)
    assert (created.condition.metric, created.severity, dict(created.scope_tags), created.enabled) == (
        "api.*", common_pb2.SEVERITY_CRITICAL, {"env": "prod"}, True)
    code, error = rw.error("CreateRule", anomalies_pb2.CreateRuleRequest(rule=rule_message()))
    assert (code, error.code) == (grpc.StatusCode.ALREADY_EXISTS, "CONFLICT")
    code, error = ro.error("CreateRule", anomalies_pb2.CreateRuleRequest(rule=rule_message(name="x")))
    assert (code, error.code) == (grpc.StatusCode.PERMISSION_DENIED, "FORBIDDEN")
    bad = rule_message(name="bad",
                       condition=anomalies_pb2.RuleCondition(metric="a b", operator="greater_than"))
    code, error = rw.error("CreateRule", anomalies_pb2.CreateRuleRequest(rule=bad))
    assert (code, error.code, error.details["field"]) == (
        grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_ERROR", "condition.metric")
    rw("CreateRule", anomalies_pb2.CreateRuleRequest(rule=rule_message(name="a-first")))

    listed = ro("ListRules", anomalies_pb2.ListRulesRequest(page=common_pb2.PageRequest(page_size=1)))
    assert [r.name for r in listed.rules] == ["a-first"] and listed.page.total_size == 2
    assert listed.page.next_page_token
    assert ro("GetRule", anomalies_pb2.GetRuleRequest(rule_id=created.id)).rule == created

    patched = rw("UpdateRule", anomalies_pb2.UpdateRuleRequest(
        rule_id=created.id, patch=anomalies_pb2.RulePatch(threshold=750))).rule
    assert (patched.condition.metric, patched.condition.operator, patched.condition.threshold) == (
        "api.*", "greater_than", 750.0)
    assert (patched.severity, dict(patched.scope_tags), patched.enabled, patched.description) == (
        common_pb2.SEVERITY_CRITICAL, {"env": "prod"}, True, "p99 above 500 ms")
    change = anomalies_pb2.RulePatch(set_scope=True, enabled=False, severity=common_pb2.SEVERITY_INFO,
                                     description="")
    patched = rw("UpdateRule", anomalies_pb2.UpdateRuleRequest(rule_id=created.id, patch=change)).rule
    assert (dict(patched.scope_tags), patched.enabled, patched.severity, patched.description,
            patched.condition.threshold) == ({}, False, common_pb2.SEVERITY_INFO, "", 750.0)

    in_test = data["test_key"]
    for method, request in (("GetRule", anomalies_pb2.GetRuleRequest(rule_id=created.id)),
                            ("UpdateRule", anomalies_pb2.UpdateRuleRequest(rule_id=created.id)),
                            ("DeleteRule", anomalies_pb2.DeleteRuleRequest(rule_id=created.id))):
        code, error = in_test.error(method, request)
        assert (code, error.code) == (grpc.StatusCode.NOT_FOUND, "RULE_NOT_FOUND")
    assert in_test("ListRules", anomalies_pb2.ListRulesRequest()).page.total_size == 0

    rw("DeleteRule", anomalies_pb2.DeleteRuleRequest(rule_id=created.id))
    code, error = rw.error("GetRule", anomalies_pb2.GetRuleRequest(rule_id=created.id))
    assert (code, error.code) == (grpc.StatusCode.NOT_FOUND, "RULE_NOT_FOUND")


def token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize("text", ["o:3000000000", f"o:{2**31}", "o:-1", "o:+5", "o: 5", "o:1_0", "o:\u0665",
                                  "o:", "x:5", "o:" + "9" * 5000])
def test_a_page_token_past_any_offset_or_not_ours_is_refused(data, text):
    code, error = data["rw"].error("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(
        page=common_pb2.PageRequest(page_token=token(text))))
    assert (code, error.details) == (grpc.StatusCode.INVALID_ARGUMENT, {"field": "page_token"})


def test_the_largest_offset_a_token_holds_answers_an_empty_page(data):
    answer = data["rw"]("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(
        page=common_pb2.PageRequest(page_token=token(f"o:{2**31 - 1}"))))
    assert list(answer.anomalies) == [] and answer.page.offset == 2**31 - 1
    assert answer.page.total_size == 7 and answer.page.next_page_token == ""


@pytest.mark.parametrize("count", [33, 5000])
def test_more_tag_filters_than_a_series_has_tags_are_refused(data, count):
    code, error = data["rw"].error("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(
        tags={f"k{i}": "v" for i in range(count)}))
    assert (code, error.details) == (grpc.StatusCode.INVALID_ARGUMENT, {"field": "tags"})
    tags = {"host": "a", **{f"k{i}": "v" for i in range(31)}}
    assert data["rw"]("ListAnomalies", anomalies_pb2.ListAnomaliesRequest(tags=tags)).page.total_size == 0


def test_a_rule_severity_number_this_release_does_not_know_is_refused(data):
    rw = data["rw"]
    code, error = rw.error("CreateRule", anomalies_pb2.CreateRuleRequest(rule=rule_message(severity=99)))
    assert (code, error.details) == (grpc.StatusCode.INVALID_ARGUMENT, {"field": "severity"})
    assert rw("ListRules", anomalies_pb2.ListRulesRequest()).page.total_size == 0
    unset = rw("CreateRule", anomalies_pb2.CreateRuleRequest(
        rule=rule_message(severity=common_pb2.SEVERITY_UNSPECIFIED))).rule
    assert unset.severity == common_pb2.SEVERITY_WARNING  # the default
    code, error = rw.error("UpdateRule", anomalies_pb2.UpdateRuleRequest(
        rule_id=unset.id, patch=anomalies_pb2.RulePatch(severity=99, threshold=1)))
    assert (code, error.details) == (grpc.StatusCode.INVALID_ARGUMENT, {"field": "severity"})
    assert rw("GetRule", anomalies_pb2.GetRuleRequest(rule_id=unset.id)).rule == unset  # unchanged
    kept = rw("UpdateRule", anomalies_pb2.UpdateRuleRequest(
        rule_id=unset.id, patch=anomalies_pb2.RulePatch(threshold=1))).rule
    assert kept.severity == common_pb2.SEVERITY_WARNING and kept.condition.threshold == 1
