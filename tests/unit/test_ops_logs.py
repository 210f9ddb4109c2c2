"""The JSON log lines (services.common.logs): one object per line, whatever is logged, with the
trace a line was logged in."""
from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry import context, propagate

from services.common.logs import JsonFormatter

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
PARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"


@pytest.fixture
def logged():
    """(logger, lines): a logger writing through the JSON formatter, and the lines it wrote."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("probe"))
    logger = logging.getLogger("ops-logs-probe")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)

    def lines() -> list[dict]:
        text = stream.getvalue()
        assert text.endswith("\n")
        return [json.loads(line) for line in text.splitlines()]

    yield logger, lines
    logger.handlers[:] = []


def test_a_line_logged_in_a_callers_trace_carries_its_trace_and_span_ids(logged):
    logger, lines = logged
    token = context.attach(propagate.extract({"traceparent": PARENT}))
    try:
        logger.info("inside")
    finally:
        context.detach(token)
    logger.info("outside")
    inside, outside = lines()
    assert (inside["trace_id"], inside["span_id"]) == (TRACE_ID, SPAN_ID)
    assert "trace_id" not in outside and "span_id" not in outside
