"""Bad input to the REST gateway is refused in the contract's envelope and reaches no backend:
the real app (routes, hooks, limiter), with keys from a local table and the backends faked."""
from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize, NoMoreData

from anomalywatch.catalog.v1 import accounts_pb2, anomalies_pb2, metrics_pb2
from anomalywatch.common.v1 import common_pb2
from anomalywatch.forecast.v1 import forecast_pb2
from anomalywatch.ingest.v1 import ingest_pb2
from tests.ratelimit.conftest import make_app

MIB = 1024 * 1024
NOW = int(time.time())


class FakeBatcher:
    """Stands in for the IngestBatcher: records what would be stored, answers every point ingested."""

    def __init__(self):
        self.calls: list[tuple[list[ingest_pb2.Point], bool]] = []

    def ingest(self, key, points, test_only, all_or_nothing=False):
        self.calls.append((list(points), test_only))
        return [ingest_pb2.PointResult(index=i, status=ingest_pb2.POINT_STATUS_INGESTED, metric_id="met_1")
                for i in range(len(points))]


@dataclass
class FakeClients:
    """Stands in for gateway.clients.Clients: `answers[(stub, method)]` makes the response of a call
    from its request; every call is recorded."""
    answers: dict[tuple[str, str], Callable[[Any], Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    def __getattr__(self, stub: str):
        return _Stub(self, stub)

    def call(self, method, request, key=None, timeout=None):
        return method(request)


@dataclass
class _Stub:
    clients: FakeClients
    name: str

    def __getattr__(self, method: str):
        def answer(request):
            self.clients.calls.append((self.name, method, request))
            return self.clients.answers[(self.name, method)](request)
        return answer


@dataclass
class Gateway:
    client: Any
    key: str
    ingest: FakeBatcher
    backends: FakeClients

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **extra}

    def post(self, path: str, body: Any = None):
        return self.client.post(path, json=body, headers=self.headers())


@pytest.fixture
def gw() -> Gateway:
    app, keys = make_app()
    key, _ = keys.add(plan="enterprise", scopes="ingest,read,write,forecast,admin")
    aw = app.extensions["aw"]
    aw.ingest, aw.clients = FakeBatcher(), FakeClients()
    return Gateway(app.test_client(), key, aw.ingest, aw.clients)


def error_of(response) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


# --- Bodies over 1 MiB, declared or chunked -------------------------------------------------------

JSON = {"Content-Type": "application/json"}


def chunked(client, path: str, body: bytes, method: str = "POST", **headers: str):
    """A body without Content-Length, as a server that decodes Transfer-Encoding: chunked hands it
    on (gunicorn sets wsgi.input_terminated; Werkzeug's test client does not)."""
    return client.open(path, method=method, input_stream=io.BytesIO(body),
                       environ_overrides={"wsgi.input_terminated": True},
                       headers={"Transfer-Encoding": "chunked", **JSON, **headers})


def padded(body: Any, size: int) -> bytes:
    """`body` as JSON of exactly `size` bytes (trailing whitespace, which JSON ignores)."""
    raw = json.dumps(body).encode()
    return raw + b" " * (size - len(raw))


def ingest_batch(size: int) -> bytes:
    return padded({"points": [{"metric": "big.m", "value": 1, "timestamp": NOW}]}, size)


def flux_post(key: str, size: int) -> bytes:
    return padded({"key": key, "metrics": [{"metric": "big.m", "timestamp": NOW, "value": 1}]}, size)


@pytest.mark.parametrize("send", ["chunked", "declared"])
def test_an_ingest_body_over_one_mebibyte_is_413_and_stores_nothing(gw, send):
    body = ingest_batch(MIB + 1)
    if send == "chunked":
        answer = chunked(gw.client, "/v1/ingest", body, **gw.headers())
    else:
        answer = gw.client.post("/v1/ingest", data=body, headers=gw.headers(**JSON))
    assert answer.status_code == 413, answer.get_data(as_text=True)[:300]
    error = error_of(answer)
    assert error["code"] == "PAYLOAD_TOO_LARGE" and error["details"] == {"field": "body", "limit_bytes": MIB}
    assert gw.ingest.calls == []


def test_a_chunked_ingest_body_of_exactly_one_mebibyte_is_taken(gw):
    answer = chunked(gw.client, "/v1/ingest", ingest_batch(MIB), **gw.headers())
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert len(gw.ingest.calls) == 1


@pytest.mark.parametrize("path", ["/v1/api-keys", "/v1/anomalies/anom_x/resolve", "/v1/anomalies/rules",
                                  "/v1/forecast"])
def test_every_body_taking_route_refuses_a_chunked_body_over_one_mebibyte(gw, path):
    body = b'{"name": "' + b"x" * MIB + b'"}'
    answer = chunked(gw.client, path, body, **gw.headers())
    assert answer.status_code == 413 and error_of(answer)["code"] == "PAYLOAD_TOO_LARGE"
    assert gw.backends.calls == []


def test_a_chunked_anomaly_config_over_one_mebibyte_is_413(gw):
    body = b'{"comparison_window": "' + b"9" * MIB + b'"}'
    answer = chunked(gw.client, "/v1/metrics/big.m/anomaly_config", body, "PUT", **gw.headers())
    assert answer.status_code == 413 and error_of(answer)["code"] == "PAYLOAD_TOO_LARGE"
    assert gw.backends.calls == []


@pytest.mark.parametrize("send", ["chunked", "declared"])
def test_a_flux_post_over_one_mebibyte_is_anomifys_413_and_stores_nothing(gw, send):
    body = flux_post(gw.key, MIB + 1)
    if send == "chunked":
        answer = chunked(gw.client, "/flux/metric_data_post", body)
    else:
        answer = gw.client.post("/flux/metric_data_post", data=body, content_type="application/json")
    assert answer.status_code == 413
    assert answer.get_json() == {"code": 413, "message": "payload too large"}
    assert gw.ingest.calls == []


def test_a_chunked_flux_post_of_exactly_one_mebibyte_is_taken_and_keyed(gw):
    answer = chunked(gw.client, "/flux/metric_data_post", flux_post(gw.key, MIB))
    assert answer.status_code == 204, answer.get_data(as_text=True)[:300]
    assert len(gw.ingest.calls) == 1
    assert answer.headers["X-RateLimit-Limit"] == "10000"  # the key's plan, not the address's





class BrokenChunks:
    """gunicorn's body stream (read() only) of a chunked body whose framing breaks after `data`."""

    def __init__(self, data: bytes, error: Exception):
        self.data, self.error = data, error

    def read(self, size: int = -1) -> bytes:
        if not self.data:
            raise self.error
        size = len(self.data) if size is None or size < 0 else size
        out, self.data = self.data[:size], self.data[size:]
        return out


def broken(client, path: str, data: bytes, error: Exception, **headers: str):
    environ = {"wsgi.input": BrokenChunks(data, error), "wsgi.input_terminated": True}
    return client.post(path, environ_overrides=environ,
                       headers={"Transfer-Encoding": "chunked", **JSON, **headers})


@pytest.mark.parametrize("error", [InvalidChunkSize(b"ZZ"), ChunkMissingTerminator(b"xx"), NoMoreData(b"")])
@pytest.mark.parametrize("size", [10, MIB])  # the body breaks within the limit, or just past it
def test_an_ingest_body_with_broken_chunked_framing_is_400_never_500(gw, error, size):
    answer = broken(gw.client, "/v1/ingest", ingest_batch(size), error, **gw.headers())
    assert answer.status_code == 400, answer.get_data(as_text=True)
    error = error_of(answer)
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == "body"
    assert gw.ingest.calls == []


@pytest.mark.parametrize("size", [10, MIB])
def test_a_flux_post_with_broken_chunked_framing_is_anomifys_400(gw, size):
    answer = broken(gw.client, "/flux/metric_data_post", flux_post(gw.key, size), InvalidChunkSize(b"ZZ"))
    assert answer.status_code == 400
    assert answer.get_json() == {"code": 400, "message": "invalid POST data - the body could not be read"}
    assert gw.ingest.calls == []


def test_a_chunked_body_over_the_limit_that_then_breaks_is_still_413(gw):
    answer = broken(gw.client, "/v1/ingest", ingest_batch(MIB + 10), InvalidChunkSize(b"ZZ"), **gw.headers())
    assert answer.status_code == 413 and error_of(answer)["code"] == "PAYLOAD_TOO_LARGE"

# --- Integer parameters: plain ASCII decimal, one parser ------------------------------------------

LISTS = {"/v1/metrics": ("metrics", "ListMetrics", metrics_pb2.ListMetricsResponse),
         "/v1/anomalies": ("anomalies", "ListAnomalies", anomalies_pb2.ListAnomaliesResponse),
         "/v1/anomalies/rules": ("rules", "ListRules", anomalies_pb2.ListRulesResponse),
         "/v1/ingest/test": ("ingest", "ListTestPosts", ingest_pb2.ListTestPostsResponse),
         "/v1/api-keys": ("accounts", "ListApiKeys", accounts_pb2.ListApiKeysResponse)}
# Each is an integer to int() or str.isdigit(), or was once a 500: none is plain ASCII decimal.
NOT_DECIMAL = ["²", "٣", "５", "1_0", "+5", " 5", "5 ", "5\n", "1e3", "0x10", "5.0", "--5", "-", "\u0000"]


def listing(gw: Gateway) -> None:
    """Catalog (and ingest) answer every list with an empty page echoing the request's paging."""
    for stub, method, response in LISTS.values():
        gw.backends.answers[(stub, method)] = lambda request, response=response: response(
            page=common_pb2.PageInfo(page_size=request.page.page_size, offset=request.page.offset))


def pages_sent(gw: Gateway) -> list[tuple[int, int]]:
    return [(request.page.page_size, request.page.offset) for _, _, request in gw.backends.calls]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("name", ["limit", "offset", "page"])
@pytest.mark.parametrize("raw", NOT_DECIMAL)
def test_paging_parameters_that_are_not_plain_decimal_are_400_naming_them(gw, path, name, raw):
    listing(gw)
    answer = gw.client.get(path, query_string={name: raw}, headers=gw.headers())
    assert answer.status_code == 400, (path, name, raw, answer.get_data(as_text=True))
    error = error_of(answer)
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == name
    assert gw.backends.calls == []


@pytest.mark.parametrize(("query", "sent"), [
    ({}, (50, 0)), ({"limit": ""}, (50, 0)), ({"limit": "7"}, (7, 0)),
    ({"limit": "007", "offset": "3"}, (7, 3)), ({"limit": "10", "page": "3"}, (10, 20)),
    ({"limit": "5000"}, (1000, 0)), ({"limit": "9" * 400}, (1000, 0)),
    ({"offset": str(2**31 - 1)}, (50, 2**31 - 1))])
def test_plain_decimal_paging_is_taken_and_a_large_limit_lowered(gw, query, sent):
    listing(gw)
    answer = gw.client.get("/v1/metrics", query_string=query, headers=gw.headers())
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert pages_sent(gw) == [sent]


@pytest.mark.parametrize(("query", "message"), [
    ({"limit": "0"}, "positive"), ({"limit": "-1"}, "positive"), ({"offset": "-5"}, "non-negative"),
    ({"page": "0"}, "positive"), ({"offset": str(2**31)}, "at most"), ({"page": "9" * 400}, "at most"),
    ({"offset": "9" * 5000}, "digits"), ({"limit": "-" + "9" * 5000}, "digits")])
def test_paging_out_of_range_is_400_naming_the_parameter(gw, query, message):
    listing(gw)
    answer = gw.client.get("/v1/metrics", query_string=query, headers=gw.headers())
    assert answer.status_code == 400, answer.get_data(as_text=True)
    error = error_of(answer)
    assert error["details"]["field"] == next(iter(query)) and message in error["message"]
    assert gw.backends.calls == []


def points_listed(gw: Gateway) -> None:
    gw.backends.answers[("metrics", "ListPoints")] = lambda request: metrics_pb2.ListPointsResponse()


@pytest.mark.parametrize("raw", [*NOT_DECIMAL, "0", "-3", ""])
def test_a_points_limit_that_is_not_a_positive_decimal_is_400_never_500(gw, raw):
    points_listed(gw)
    answer = gw.client.get("/v1/metrics/met_1/points", query_string={"limit": raw}, headers=gw.headers())
    assert answer.status_code == 400, (raw, answer.get_data(as_text=True))
    error = error_of(answer)
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == "limit"
    assert gw.backends.calls == []


@pytest.mark.parametrize(("query", "sent"), [({}, 1000), ({"limit": "5"}, 5),
                                             ({"limit": "20000"}, 10_000), ({"limit": "9" * 400}, 10_000)])
def test_a_points_limit_is_taken_and_lowered_to_ten_thousand(gw, query, sent):
    points_listed(gw)
    answer = gw.client.get("/v1/metrics/met_1/points", query_string=query, headers=gw.headers())
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert [request.limit for _, _, request in gw.backends.calls] == [sent]
    assert answer.get_json()["pagination"]["limit"] == sent


def forecasting(gw: Gateway) -> None:
    gw.backends.answers[("forecast", "Forecast")] = lambda request: forecast_pb2.ForecastResponse(
        model="seasonal_naive", confidence=0.95, metric_id="met_1", step_seconds=3600)


@pytest.mark.parametrize("horizon", ["٣", "٣h", "２４h", "1٫5h", "+5", "1_0", "-3", "0", "1.5", "", "  ",
                                     "9" * 5000, "²"])
def test_a_horizon_in_other_digits_or_not_plain_decimal_steps_is_400(gw, horizon):
    forecasting(gw)
    answer = gw.post("/v1/forecast", {"metric": "m", "horizon": horizon})
    assert answer.status_code == 400, (horizon, answer.get_data(as_text=True))
    error = error_of(answer)
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == "horizon"
    assert gw.backends.calls == []


@pytest.mark.parametrize(("horizon", "sent"), [("48", "48"), (" 48 ", "48"), (48, "48"), (48.0, "48"),
                                               ("007", "7"), ("24h", "24h"), (" 1.5h", "1.5h"),
                                               ("5001", "5001")])  # forecast owns the 5000-step cap
def test_a_horizon_of_ascii_steps_or_a_duration_reaches_forecast(gw, horizon, sent):
    forecasting(gw)
    answer = gw.post("/v1/forecast", {"metric": "m", "horizon": horizon})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert [request.horizon for _, _, request in gw.backends.calls] == [sent]


def configuring(gw: Gateway) -> None:
    gw.backends.answers[("metrics", "UpdateAnomalyConfig")] = (
        lambda request: metrics_pb2.UpdateAnomalyConfigResponse(effective=request.config))


@pytest.mark.parametrize("window", ["٣d", "２４h", "7ｄ", "1٫5h"])
def test_a_comparison_window_in_other_scripts_digits_is_400(gw, window):
    configuring(gw)
    answer = gw.client.put("/v1/metrics/m/anomaly_config", json={"comparison_window": window},
                           headers=gw.headers())
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert error_of(answer)["details"]["field"] == "comparison_window"
    assert gw.backends.calls == []


def test_an_ascii_comparison_window_reaches_catalog(gw):
    configuring(gw)
    answer = gw.client.put("/v1/metrics/m/anomaly_config", json={"comparison_window": "7d"},
                           headers=gw.headers())
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert [request.config.comparison_window for _, _, request in gw.backends.calls] == ["7d"]

# --- Resolving an anomaly ----------------------------------------------------------------------

def resolving(gw: Gateway) -> None:
    """Catalog answers ResolveAnomaly with the anomaly resolved."""
    def resolve(request):
        return anomalies_pb2.ResolveAnomalyResponse(anomaly=anomalies_pb2.Anomaly(
            id=request.anomaly_id, status=anomalies_pb2.ANOMALY_STATUS_RESOLVED,
            root_cause=request.root_cause))
    gw.backends.answers[("anomalies", "ResolveAnomaly")] = resolve


@pytest.mark.parametrize("root_cause", ["", " ", "Bug", "bug ", "unknown", 5, True, ["bug"], {"x": 1}])
def test_a_root_cause_outside_the_vocabulary_is_400_and_resolves_nothing(gw, root_cause):
    resolving(gw)
    answer = gw.post("/v1/anomalies/anom_1/resolve", {"root_cause": root_cause})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    error = error_of(answer)
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == "root_cause"
    assert "infrastructure" in error["details"]["allowed"]
    assert gw.backends.calls == []


@pytest.mark.parametrize(("body", "sent"), [
    (None, ""), ({}, ""), ({"root_cause": None}, ""), ({"root_cause": "other"}, "other"),
    ({"note": "rolled back", "root_cause": "deployment"}, "deployment")])
def test_a_root_cause_is_optional_and_else_one_of_the_contracts(gw, body, sent):
    resolving(gw)
    answer = gw.post("/v1/anomalies/anom_1/resolve", body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert [request.root_cause for _, _, request in gw.backends.calls] == [sent]
    assert answer.get_json()["data"]["root_cause"] == (sent or None)

# --- Operations --------------------------------------------------------------------------------

def test_prometheus_metrics_carry_exactly_prometheus_clients_content_type(gw):
    from prometheus_client import CONTENT_TYPE_LATEST

    answer = gw.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == CONTENT_TYPE_LATEST


# --- Paths with doubled slashes -------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1//metrics", "/v1/metrics//anomaly_config",
                                  "/v1//anomalies", "/v1/rules//"])
def test_a_path_with_doubled_slashes_is_a_404_envelope_never_a_redirect(gw, path):
    """Werkzeug merges slashes by redirecting (308, an HTML body) to another route: a client that
    follows redirects would act on a resource it did not name."""
    for method in ("GET", "POST", "PUT"):
        response = gw.client.open(path, method=method, json={}, headers=gw.headers())
        assert response.status_code == 404, (method, path, response.status_code)
        assert error_of(response)["code"] == "NOT_FOUND"
        assert "Location" not in response.headers
    assert gw.backends.calls == [] and gw.ingest.calls == []

# --- Ingest: duplicate JSON keys, repeated query parameters, X-Test-Only, flux's own shape --------

POINT = f'"metric": "dup.m", "value": 1, "timestamp": {NOW}'


@pytest.mark.parametrize(("raw", "key"), [
    ('{"metric": "dup.a", "metric": "dup.b", "value": 1, "timestamp": ' + str(NOW) + "}", "metric"),
    ("{" + POINT + ', "value": 2}', "value"),
    ("{" + POINT + ', "tags": {"env": "a", "env": "b"}}', "env"),
    ('{"points": [{' + POINT + '}], "points": [{' + POINT + "}]}", "points"),
    ('{"points": [{' + POINT + "}, {" + POINT + f', "timestamp": {NOW + 1}}}]}}', "timestamp")])
def test_an_ingest_body_naming_a_key_twice_is_400_naming_it_and_stores_nothing(gw, raw, key):
    """The json module keeps the last of two equal keys: the point went to whichever came last."""
    answer = gw.client.post("/v1/ingest", data=raw, headers=gw.headers(**JSON))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    error = error_of(answer)
    assert error["code"] == "VALIDATION_ERROR" and error["details"] == {"field": key}
    assert f'duplicate key "{key}"' in error["message"]
    assert gw.ingest.calls == []


def test_any_json_body_naming_a_key_twice_is_400(gw):
    configuring(gw)
    raw = '{"sensitivity": "low", "sensitivity": "high"}'
    answer = gw.client.put("/v1/metrics/m/anomaly_config", data=raw, headers=gw.headers(**JSON))
    assert answer.status_code == 400 and error_of(answer)["details"] == {"field": "sensitivity"}
    assert gw.backends.calls == []


def test_a_flux_post_naming_a_key_twice_is_anomifys_400_and_stores_nothing(gw):
    raw = f'{{"key": "aw_live_other", "key": "{gw.key}", "metrics": [{{{POINT}}}]}}'
    answer = gw.client.post("/flux/metric_data_post", data=raw, content_type="application/json")
    assert answer.status_code == 400
    assert answer.get_json() == {"code": 400, "message": 'invalid json data - duplicate key "key"'}
    assert gw.ingest.calls == []


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("name", ["limit", "offset", "page"])
def test_a_paging_parameter_given_twice_is_400_naming_it(gw, path, name):
    listing(gw)
    answer = gw.client.get(f"{path}?{name}=1&{name}=2", headers=gw.headers())
    assert answer.status_code == 400, (path, answer.get_data(as_text=True))
    error = error_of(answer)
    assert error["details"] == {"field": name} and "more than once" in error["message"]
    assert gw.backends.calls == []


@pytest.mark.parametrize("query", ["tag.env=a&tag.env=b", "status=active&status=resolved",
                                   "severity=critical&severity=info", "metric=a&metric=b",
                                   "from=2026-01-01&from=2026-02-01"])
def test_a_filter_given_twice_is_400_instead_of_its_first_value(gw, query):
    listing(gw)
    answer = gw.client.get(f"/v1/anomalies?{query}", headers=gw.headers())
    assert answer.status_code == 400, (query, answer.get_data(as_text=True))
    assert error_of(answer)["details"] == {"field": query.partition("=")[0]}
    assert gw.backends.calls == []


def test_distinct_tag_filters_are_still_taken(gw):
    listing(gw)
    answer = gw.client.get("/v1/metrics?tag.env=a&tag.host=b&limit=5", headers=gw.headers())
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert dict(gw.backends.calls[0][2].tags) == {"env": "a", "host": "b"}


@pytest.mark.parametrize(("header", "test_only"), [("true", True), ("TRUE", True), (" 1 ", True),
                                                   ("yes", True), ("false", False), ("0", False),
                                                   ("no", False), ("", False)])
def test_x_test_only_yes_or_no_decides_a_dry_run(gw, header, test_only):
    answer = gw.client.post("/v1/ingest", json={"metric": "dry.m", "value": 1, "timestamp": NOW},
                            headers=gw.headers(**{"X-Test-Only": header}))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert [dry for _, dry in gw.ingest.calls] == [test_only]


@pytest.mark.parametrize("header", ["on", "y", "ture", "true,false", "dry-run"])
def test_an_x_test_only_that_is_neither_yes_nor_no_is_400_and_stores_nothing(gw, header):
    """Taken as false, a client that meant a dry run had its points stored for real."""
    answer = gw.client.post("/v1/ingest", json={"metric": "dry.m", "value": 1, "timestamp": NOW},
                            headers=gw.headers(**{"X-Test-Only": header}))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert error_of(answer)["details"]["field"] == "X-Test-Only"
    metrics = [{"metric": "dry.m", "timestamp": NOW, "value": 1}]
    flux = gw.client.post("/flux/metric_data_post", headers={"X-Test-Only": header},
                          json={"key": gw.key, "metrics": metrics})
    assert flux.status_code == 400 and set(flux.get_json()) == {"code", "message"}
    assert "X-Test-Only" in flux.get_json()["message"]
    assert gw.ingest.calls == []


class FailingBatcher:
    def __init__(self, error: Exception):
        self.error = error

    def ingest(self, key, points, test_only, all_or_nothing=False):
        raise self.error


@pytest.mark.parametrize(("failure", "status"), [("unavailable", 503), ("unexpected", 500)])
def test_a_flux_post_the_pipeline_fails_is_answered_in_anomifys_shape(gw, failure, status):
    from services.common.errors import ServiceError

    error = (ServiceError("UNAVAILABLE", "ingest is unavailable; retry shortly") if failure == "unavailable"
             else RuntimeError("boom at 10.0.0.1:50052"))
    gw.client.application.extensions["aw"].ingest = FailingBatcher(error)
    answer = gw.client.post("/flux/metric_data_post", json={
        "key": gw.key, "metrics": [{"metric": "flux.m", "timestamp": NOW, "value": 1}]})
    assert answer.status_code == status
    body = answer.get_json()
    assert set(body) == {"code", "message"} and body["code"] == status, body
    assert "10.0.0.1" not in body["message"]


@pytest.mark.parametrize(("point", "field"), [
    ({"metric": "bad name", "value": 1, "timestamp": NOW}, "metric"),
    ({"metric": "m", "value": "x", "timestamp": NOW}, "value"),
    ({"metric": "m", "timestamp": NOW}, "value"),
    ({"metric": "m", "value": 1, "timestamp": "soon"}, "timestamp"),
    ({"metric": "m", "value": 1, "timestamp": NOW, "tags": {"a": 1}}, "tags"),
    ({"metric": "m", "value": 1, "timestamp": NOW, "source": 5}, "source"),
    ({"metric": "m", "value": 1, "timestamp": NOW, "colour": "red"}, "colour")])
def test_an_invalid_single_point_names_its_field(gw, point, field):
    answer = gw.post("/v1/ingest", point)
    assert answer.status_code == 400
    assert error_of(answer)["details"] == {"index": 0, "reason": "VALIDATION_ERROR", "field": field}
    assert gw.ingest.calls == []


# --- Times whose offset came with an unencoded `+` ------------------------------------------------

@pytest.mark.parametrize(("raw", "seconds"), [
    ("2026-01-01T05:00:00 05:00", 1767225600), ("2026-01-01T05:00:00+05:00", 1767225600),
    ("2026-01-01T05:30 0530", 1767225600), ("2026-01-01 05:00:00.5 05:00", 1767225600.5),
    ("2026-01-01T00:00:00Z", 1767225600), ("2026-01-01T00:00:00", 1767225600)])
def test_a_time_whose_plus_was_decoded_to_a_space_is_read_with_its_offset(gw, raw, seconds):
    """`?from=...+05:00` typed into a shell reaches the server as `... 05:00`: nothing but an offset's
    `+` can stand there, so it is read as one, not refused."""
    listing(gw)
    answer = gw.client.get("/v1/anomalies", query_string={"from": raw}, headers=gw.headers())
    assert answer.status_code == 200, answer.get_data(as_text=True)
    sent = gw.backends.calls[-1][2].start_time
    assert sent.seconds + sent.nanos / 1e9 == seconds


@pytest.mark.parametrize("raw", ["2026-01-01T05:00:00 5:00", "2026-01-01T05:00:00 05:00 x",
                                 "2026-01-01T05:00:00  05:00"])
def test_a_space_that_is_no_decoded_plus_is_still_400(gw, raw):
    listing(gw)
    answer = gw.client.get("/v1/anomalies", query_string={"from": raw}, headers=gw.headers())
    assert answer.status_code == 400 and error_of(answer)["details"]["field"] == "from"
