"""setup_tracing per exporter and per standard OTEL_* variable. Each case runs in its own
interpreter: a process installs its tracer provider once."""
from __future__ import annotations

import os
import subprocess
import sys

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
UNSAMPLED = f"00-{TRACE_ID}-00f067aa0ba902b7-00"

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


SETUP = """
import sys
from opentelemetry import propagate, trace
from services.common.telemetry import setup_tracing, tracing_enabled
setup_tracing("probe", sys.argv[1])
provider = trace.get_tracer_provider()
if tracing_enabled():
    processor, = provider._active_span_processor._span_processors
    print("exporter:", type(processor.span_exporter).__module__)
    print("service:", provider.resource.attributes["service.name"])
with trace.get_tracer("probe").start_as_current_span(
        "call", context=propagate.extract({"traceparent": sys.argv[2]})) as span:
    carrier = {}
    propagate.inject(carrier)
    print("recording:", span.is_recording())
print("traced:", tracing_enabled())
print("sent:", carrier.get("traceparent"))
"""


def _setup(exporter: str, parent: str = PARENT, **env: str) -> dict[str, str]:
    """What a process set up with `exporter` and `env` reports: its exporter's module, service
    name, whether a span in the caller's trace `parent` records, and the traceparent it sends."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env = {**clean, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", **env}
    done = subprocess.run([sys.executable, "-c", SETUP, exporter, parent], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line and
                line.split(": ", 1)[0] in ("exporter", "service", "recording", "traced", "sent"))


def test_the_service_is_named_after_itself_unless_the_standard_variables_name_it():
    assert _setup("console")["service"] == "anomalywatch-probe"
    assert _setup("console", OTEL_SERVICE_NAME="aw-eu-gateway")["service"] == "aw-eu-gateway"
    named = _setup("console", OTEL_RESOURCE_ATTRIBUTES="service.name=aw-eu,k8s.pod.name=p")
    assert named["service"] == "aw-eu"


def test_otlp_speaks_the_protocol_the_standard_variables_choose():
    assert _setup("otlp")["exporter"].startswith("opentelemetry.exporter.otlp.proto.grpc")
    http = _setup("otlp", OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    assert http["exporter"].startswith("opentelemetry.exporter.otlp.proto.http")
    traces_only = _setup("otlp", OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
                         OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/protobuf")
    assert traces_only["exporter"].startswith("opentelemetry.exporter.otlp.proto.http")


def test_a_callers_unsampled_trace_stays_unsampled_and_the_standard_sampler_is_used():
    unsampled = _setup("console", UNSAMPLED)
    assert unsampled["recording"] == "False"
    assert unsampled["sent"].split("-")[1::2] == [TRACE_ID, "00"]  # the trace, not sampled
    assert _setup("console", PARENT)["recording"] == "True"
    assert _setup("console", PARENT, OTEL_TRACES_SAMPLER="parentbased_always_off")["recording"] == "True"
    off = _setup("console", PARENT, OTEL_TRACES_SAMPLER="always_off")
    assert off["recording"] == "False" and off["sent"].split("-")[1::2] == [TRACE_ID, "00"]


def test_the_sdk_disabled_records_nothing_and_passes_the_callers_trace_on():
    disabled = _setup("console", OTEL_SDK_DISABLED="true")
    assert (disabled["traced"], disabled["recording"], disabled["sent"]) == ("False", "False", PARENT)


def test_without_an_exporter_no_span_is_recorded_and_the_callers_trace_passes_on():
    assert _probe("none") == ("False", TRACE_ID)


def test_with_an_exporter_spans_are_recorded_in_the_callers_trace():
    assert _probe("console") == ("True", TRACE_ID)
