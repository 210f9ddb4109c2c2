"""One REST request is one trace through gateway, ingest, detect and catalog."""
from __future__ import annotations

import json
import re
import time

import pytest

from tests.e2e.harness import start_system

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TRACE_ID = re.compile(r'"trace_id": "0x([0-9a-f]{32})"')


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("traced")
    running = start_system(tmp, f"sqlite:///{tmp}/aw.db", AW_OTEL_EXPORTER="console")
    yield running, tmp / "log"
    running.local.stop()


def trace_ids(log_file) -> set[str]:
    return set(TRACE_ID.findall(log_file.read_text(errors="replace"))) if log_file.exists() else set()


def spans(log_file) -> list[dict]:
    """The console exporter's span objects in a service's log (JSON log lines are skipped)."""
    text = log_file.read_text(errors="replace") if log_file.exists() else ""
    decoder, found = json.JSONDecoder(), []
    for start in (m.start() for m in re.finditer(r'^\{\n\s+"name"', text, re.MULTILINE)):
        try:
            found.append(decoder.raw_decode(text, start)[0])
        except ValueError:
            continue  # a span still being written
    return found


def test_one_trace_id_spans_every_service(traced):
    system, logs = traced
    _, key = system.new_key()
    answer = system.session(key).post(f"{system.base_url}/v1/ingest", json={
        "metric": "traced.m", "value": 1.0, "timestamp": time.time() - 1}, timeout=30)
    assert answer.status_code == 200, answer.text
    services = ("gateway", "ingest", "detect-0", "catalog")
    deadline = time.monotonic() + 30  # batch span processors flush every few seconds
    while time.monotonic() < deadline:
        common = set.intersection(*(trace_ids(logs / f"{s}.log") for s in services))
        if common:
            break
        time.sleep(1)
    assert common, {s: len(trace_ids(logs / f"{s}.log")) for s in services}
    # catalog's SQL statements are spans of that same trace (the SQLAlchemy instrumentation)
    trace = "0x" + common.pop()
    sql = [s for s in spans(logs / "catalog.log")
           if s["context"]["trace_id"] == trace and "db.system" in s.get("attributes", {})]
    assert sql, "no SQL span in the request's trace"
