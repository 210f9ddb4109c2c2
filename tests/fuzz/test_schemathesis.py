"""Schemathesis against the real processes, from the document the gateway serves: every operation
with valid (positive) and invalid (negative) data, then workflows that follow the document's links
(a created rule is read, changed, deleted; an anomaly acknowledged and resolved...), with a key of
every scope; no 5xx, and every answer as documented (status, media type, headers, body).

Bounded: MAX_EXAMPLES per operation and WORKFLOWS x STEPS calls (about a minute on 2 cores)."""

from __future__ import annotations

import os
import time
from collections import Counter
from urllib.parse import unquote, urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.openapi import document
from tests.openapi.contract import template_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Longer runs: AW_FUZZ_EXAMPLES=500 AW_FUZZ_WORKFLOWS=300 .venv/bin/pytest tests/fuzz
MAX_EXAMPLES = int(os.environ.get("AW_FUZZ_EXAMPLES", "30"))
WORKFLOWS, STEPS = int(os.environ.get("AW_FUZZ_WORKFLOWS", "40")), 8
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture]
ANSWERS: Counter[tuple[str, int]] = Counter()  # (operation, status) seen, printed at the end
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


# The document is built in process (it is what /v1/openapi.json serves, tests/openapi checks that);
# the requests go to the running gateway.
# The key is ours (every scope); auth failures are covered by tests/openapi.
CONFIG = {
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "with-security-parameters": False},
    "phases": {"stateful": {"enabled": False}},
}
DOC = document()  # for routing answers; schemathesis gets copies of its own
schema = schemathesis.openapi.from_dict(document(), config=schemathesis.Config.from_dict(CONFIG))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=SUPPRESSED,
)
def test_api_conforms_to_its_document(case, system, admin_key):
    if case.operation.path == "/flux/metric_data_post" and isinstance(case.body, dict):
        if isinstance(case.body.get("key"), str):  # past Anomify's key check, into its metric rules
            case.body["key"] = admin_key
    response = case.call(base_url=system.base_url, headers=_auth(admin_key), timeout=30)
    ANSWERS[(case.operation.label, response.status_code)] += 1
    if _refused_by_the_http_server(response) or _routed_elsewhere(case, response):
        return
    case.validate_response(response, checks=checks_for(case), headers=_auth(admin_key))


def _routed_elsewhere(case, response) -> bool:
    """A generated path id can spell another route once the server decodes it (an anomaly id
    `stats`, a metric id `x%2Fanomaly_config`): that answer is the other route's, or the unknown
    route's 404 NOT_FOUND."""
    path = unquote(urlsplit(response.request.url).path)
    template = template_of(DOC, path)
    if template is None:
        assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND", response.text
        return True
    return template != case.operation.path


def _refused_by_the_http_server(response) -> bool:
    """gunicorn answers a request line over its limit (4094 bytes) before the app (with a 400
    VALIDATION_ERROR naming the url: gateway.parse_errors), so without the app's rate-limit
    headers; generated query strings can be that long. Anything else is the app's to answer."""
    url = urlsplit(response.request.url)
    target = url.path + (f"?{url.query}" if url.query else "")
    line = f"{response.request.method} {target} HTTP/1.1"
    if len(line) <= 4094:
        return False
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["field"] == "url", response.text
    return True


def test_workflows_along_the_links_conform(system, admin_key):
    _seed(system, admin_key)
    config = schemathesis.Config.from_dict({"generation": CONFIG["generation"]})
    stateful = schemathesis.openapi.from_dict(document(), config=config)

    class Workflows(stateful.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"base_url": system.base_url, "headers": _auth(admin_key), "timeout": 30}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            ANSWERS[(f"workflow {case.operation.label}", response.status_code)] += 1
            if _refused_by_the_http_server(response) or _routed_elsewhere(case, response):
                return
            case.validate_response(
                response, checks=checks_for(case), headers=_auth(admin_key), transport_kwargs=kwargs
            )

    # A workflow depends on the server's state, so Hypothesis may see a replayed draw take another
    # path (FlakyStrategyDefinition: a generation matter, not a failed check). As schemathesis' own
    # runner does, such a run is ended and a new one started: the budget runs in chunks, and most
    # chunks must complete. Only generation: replaying or shrinking cannot work here.
    chunk = settings(
        max_examples=10,
        stateful_step_count=STEPS,
        deadline=None,
        phases=[Phase.generate],
        database=None,
        suppress_health_check=SUPPRESSED,
    )
    chunks = max(1, WORKFLOWS // 10)
    flaky = 0
    for _ in range(chunks):
        try:
            Workflows.run(settings=chunk)
        except FlakyStrategyDefinition:
            flaky += 1
    assert flaky <= chunks // 2, f"{flaky} of {chunks} workflow runs ended on inconsistent generation"
    print("\nanswers seen (operation, status: count):")
    for (label, status), count in sorted(ANSWERS.items()):
        print(f"  {label} {status}: {count}")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _seed(system, key: str) -> None:
    """Data for the links to find: a rule, an anomaly it opened, a series with points."""
    api = system.session(key)
    rule = {
        "name": "fuzz.seed",
        "condition": {"metric": "fuzz.seed", "operator": "greater_than", "threshold": 9},
    }
    assert api.post(f"{system.base_url}/v1/anomalies/rules", json=rule, timeout=10).status_code in (201, 409)
    now = time.time()
    for offset, value in ((3, 1.0), (2, 50.0), (1, 2.0)):
        answer = api.post(
            f"{system.base_url}/v1/ingest",
            json={"metric": "fuzz.seed", "value": value, "timestamp": now - offset},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text


def checks_for(case) -> list:
    if case.operation.path == "/v1/ingest" and isinstance(case.body, dict) and "points" in case.body:
        # A batch reports each invalid point in its own result (207), it does not refuse the batch.
        return [check for check in CHECKS if check is not negative_data_rejection]
    return CHECKS
