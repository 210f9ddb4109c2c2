"""The OpenAPI document against the app itself (no processes): valid OpenAPI 3.1, exactly the app's
routes and methods, the scope each view requires, the error envelope on every error answer, and
`/docs` showing every operation."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from gateway.app import create_app
from gateway.openapi import document
from gateway.openapi.schemas import codes_for_status
from services.common.errors import ERROR_CODES

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def app():
    return create_app()  # the gRPC channels are lazy: nothing needs to run


@pytest.fixture(scope="module")
def doc():
    return document()


def _flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def _app_operations(app) -> dict[tuple[str, str], object]:
    """(path template, method) -> view function, for every route of the app."""
    out = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out[(_flask_to_openapi(rule.rule), method.lower())] = app.view_functions[rule.endpoint]
    return out


def _doc_operations(doc) -> dict[tuple[str, str], dict]:
    return {
        (path, method): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def test_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1.")
    validate(doc)  # the OpenAPI 3.1 meta-schema, and every schema against JSON Schema 2020-12


def test_validator_does_catch_a_broken_document(doc):
    broken = document()
    broken["paths"]["/v1/ingest"]["post"]["responses"]["200"] = {"content": {}}  # no description
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_route_is_documented_and_every_documented_operation_exists(app, doc):
    served, documented = set(_app_operations(app)), set(_doc_operations(doc))
    assert served - documented == set(), "routes missing from the document"
    assert documented - served == set(), "documented operations the app does not serve"


def test_path_parameters_are_declared_as_in_the_routes(doc):
    for (path, method), op in _doc_operations(doc).items():
        declared = {p["name"] for p in op.get("parameters", []) if p.get("in") == "path"}
        assert declared == set(re.findall(r"\{(\w+)\}", path)), (path, method)


def test_a_path_parameter_never_admits_a_sibling_routes_literal_segment(doc):
    """`/v1/anomalies/stats` is its own operation: `stats` must not be a valid anomaly id."""
    from jsonschema import Draft202012Validator

    templates = [t.split("/") for t in doc["paths"]]
    for parts in templates:
        for i, part in enumerate(parts):
            if not part.startswith("{"):
                continue
            siblings = {
                other[i]
                for other in templates
                if len(other) > i and other[:i] == parts[:i] and not other[i].startswith("{")
            }
            op = next(iter(doc["paths"]["/".join(parts)].values()))
            schema = next(p["schema"] for p in op["parameters"] if p.get("name") == part[1:-1])
            for literal in siblings:
                assert not Draft202012Validator(schema).is_valid(literal), ("/".join(parts), literal)


def test_the_documented_scope_is_the_one_each_view_requires(app, doc):
    operations = _doc_operations(doc)
    for key, view in _app_operations(app).items():
        op = operations[key]
        required = getattr(view, "required_scope", None)
        documented = [scope for requirement in op["security"] for scope in requirement.get("bearerAuth", [])]
        if required is None:
            assert documented == [], key
        else:
            assert documented == [required] and op["x-required-scope"] == required, key


def test_links_name_real_operations_and_their_parameters(doc):
    by_id = {op["operationId"]: op for op in _doc_operations(doc).values()}
    links = [
        link
        for op in by_id.values()
        for answer in op["responses"].values()
        for link in answer.get("links", {}).values()
    ]
    assert links
    for link in links:
        target = by_id[link["operationId"]]
        declared = {p["name"] for p in target.get("parameters", []) if "name" in p}
        assert set(link["parameters"]) <= declared, link


def test_operation_ids_are_unique(doc):
    ids = [op["operationId"] for op in _doc_operations(doc).values()]
    assert len(ids) == len(set(ids))


def _resolve(doc, node):
    while "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = doc["components"][section][name]
    return node


def test_every_error_answer_of_v1_is_the_envelope_with_its_status_codes(doc):
    for (path, method), op in _doc_operations(doc).items():
        if not path.startswith("/v1/") or path == "/v1/openapi.json":
            continue
        for status, answer in op["responses"].items():
            if int(status) < 400:
                continue
            schema = _resolve(doc, answer)["content"]["application/json"]["schema"]
            assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}, (path, method, status)
            codes = schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
            assert codes and set(codes) <= set(codes_for_status(int(status))), (path, method, status, codes)


def test_every_authenticated_operation_documents_401_429_500_503_and_rate_headers(doc):
    for (path, method), op in _doc_operations(doc).items():
        if not op["security"] and "x-required-scope" not in op:
            continue
        assert {"401", "429", "500", "503"} <= set(op["responses"]), (path, method)
        if op.get("x-required-scope") and op["security"]:
            assert "403" in op["responses"], (path, method)
        for status, answer in op["responses"].items():
            headers = _resolve(doc, answer).get("headers", {})
            assert "X-RateLimit-Limit" in headers and "X-RateLimit-Reset" in headers, (path, method, status)
        assert "Retry-After" in _resolve(doc, op["responses"]["429"])["headers"], (path, method)


def test_every_client_facing_error_code_is_documented_somewhere(doc):
    documented = set(
        doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    )
    assert set(ERROR_CODES) - documented <= {"WRONG_SHARD", "ACCOUNT_NOT_FOUND"}


def test_openapi_json_is_served_without_auth(app, doc):
    answer = app.test_client().get("/v1/openapi.json")
    assert answer.status_code == 200 and answer.is_json
    assert answer.get_json() == doc


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("src", "href"):
            if (attrs.get(name) or "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[name])
        if tag == "script":
            self.external.append("<script>")

    def handle_data(self, data):
        self.text.append(data)


def test_docs_renders_every_operation_and_schema_with_nothing_from_outside(app, doc):
    answer = app.test_client().get("/docs")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = _Collector()
    page.feed(answer.get_data(as_text=True))
    text = re.sub(r"\s+", " ", "".join(page.text))
    assert page.external == []
    for (path, method), op in _doc_operations(doc).items():
        assert path in text and op["summary"] in text, (path, method)
        assert any(
            i.startswith(method) and i.endswith(re.sub(r"[^A-Za-z0-9_-]+", "-", path).strip("-"))
            for i in page.ids
        ), (path, method)
        for status in op["responses"]:
            assert status in text
    for name in doc["components"]["schemas"]:
        assert f"schema-{name}" in page.ids, name
    for op in _doc_operations(doc).values():
        assert f"op-{op['operationId']}" in page.ids
    # every scope appears as a badge
    for scope in {op.get("x-required-scope") for op in _doc_operations(doc).values()} - {None}:
        assert f"scope {scope}" in text
    assert "any valid key" in text and "no auth" in text
