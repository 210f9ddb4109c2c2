"""setup_tracing per exporter. Each case runs in its own interpreter: a process installs its
tracer provider once."""
from __future__ import annotations

import subprocess
import sys

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"

PROBE = f"""
import sys
from opentelemetry import propagate, trace
from services.common.telemetry import setup_tracing
setup_tracing("probe", sys.argv[1])
with trace.get_tracer("probe").start_as_current_span(
        "call", context=propagate.extract({{"traceparent": "{PARENT}"}})) as span:
    carrier = {{}}
    propagate.inject(carrier)
    recording = span.is_recording()
print("probe:", recording, carrier["traceparent"].split("-")[1], flush=True)
"""


def _probe(exporter: str) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-c", PROBE, exporter], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("probe:"))
    _, recording, trace_id = line.split()
    return recording, trace_id


def test_without_an_exporter_no_span_is_recorded_and_the_callers_trace_passes_on():
    assert _probe("none") == ("False", TRACE_ID)


def test_with_an_exporter_spans_are_recorded_in_the_callers_trace():
    assert _probe("console") == ("True", TRACE_ID)
