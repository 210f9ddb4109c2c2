"""Schemathesis against the real processes, from the document the gateway serves: every operation
with valid (positive) and invalid (negative) data, a key with every scope; no 5xx, and every answer
as documented (status, media type, headers, body)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.openapi import document

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MAX_EXAMPLES = 30
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
schema = schemathesis.openapi.from_dict(
    document(),
    config=schemathesis.Config.from_dict(
        {
            # the key is ours (every scope); auth failures are covered by tests/openapi
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "with-security-parameters": False},
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api_conforms_to_its_document(case, system, admin_key):
    case.call_and_validate(
        base_url=system.base_url,
        headers={"Authorization": f"Bearer {admin_key}"},
        checks=checks_for(case),
        timeout=30,
    )


def checks_for(case) -> list:
    if case.operation.path == "/v1/ingest" and isinstance(case.body, dict) and "points" in case.body:
        # A batch reports each invalid point in its own result (207), it does not refuse the batch.
        return [check for check in CHECKS if check is not negative_data_rejection]
    return CHECKS
