"""The Flask app factory of the REST gateway."""
from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Flask, g, request
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from werkzeug.exceptions import RequestEntityTooLarge

from gateway import errors, ratelimit
from gateway.body import MAX_BODY_BYTES
from gateway.clients import Clients
from gateway.ingest_batcher import IngestBatcher
from gateway.json_provider import OrjsonProvider
from gateway.proxies import trust_proxies
from gateway.routes import anomalies, docs, flux, forecast, ingest, keys, metrics, ops, rules
from gateway.telemetry import count_request
from services.common.auth import PrincipalCache
from services.common.config import Settings, load_settings
from services.common.remote_auth import remote_lookup
from services.common.telemetry import tracing_enabled

BLUEPRINTS = (ops.bp, docs.bp, ingest.bp, flux.bp, metrics.bp, keys.bp, anomalies.bp, rules.bp, forecast.bp)


@dataclass
class Gateway:
    """What every request handler reaches through `current_app.extensions["aw"]`."""
    settings: Settings
    clients: Clients
    principals: PrincipalCache
    ingest: IngestBatcher  # every call of IngestService.Ingest goes through it


# The operations endpoints go untraced. OpenTelemetry tests each pattern with re.search on the full
# URL, so a bare "metrics" would also leave every /v1/metrics route untraced.
UNTRACED = ",".join(rf"^https?://[^/]+/{path}(\?|$)" for path in ("healthz", "readyz", "metrics"))


def trace_requests(app: Flask, tracer_provider=None) -> None:
    """One server span per request (FlaskInstrumentor), except for the operations endpoints. Where
    no span is recorded the caller's trace context is only taken in, for the gRPC calls to hand
    on: the instrumentation's own work, without a span to show for it, was ~15 % of a request."""
    if tracer_provider is None and not tracing_enabled():
        app.before_request(_adopt_trace_context)
        app.teardown_request(_leave_trace_context)
        return
    FlaskInstrumentor().instrument_app(app, excluded_urls=UNTRACED, tracer_provider=tracer_provider)


def _adopt_trace_context():
    if "HTTP_TRACEPARENT" in request.environ:
        g.trace_token = otel_context.attach(propagate.extract(request.headers))


def _leave_trace_context(_error):
    token = g.pop("trace_token", None)
    if token is not None:
        otel_context.detach(token)


def create_app(settings: Settings | None = None, clients: Clients | None = None) -> Flask:
    settings = settings or load_settings()
    clients = clients or Clients.connect(settings)
    app = Flask("anomalywatch.gateway", static_folder=None)  # the API serves no static files
    app.json = OrjsonProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    # Werkzeug answers a path with doubled slashes by a redirect (308, an HTML body) to the merged
    # path, another route: a client following it acts on a resource it did not name. Set before
    # the routes are added (each takes the map's setting then).
    app.url_map.merge_slashes = False
    app.extensions["aw"] = Gateway(settings, clients, PrincipalCache(
        remote_lookup(clients.catalog_channel, settings.rpc_timeout_seconds), ttl=settings.key_cache_seconds),
        IngestBatcher(lambda message, key: clients.call(clients.ingest.Ingest, message, key)))
    errors.install(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    trace_requests(app)  # first hook: the request's span is the parent of the gRPC client spans
    ratelimit.install(app)  # after the trace starts (a 429 is traced), before the other hooks
    app.before_request(_refuse_large_bodies)
    app.before_request(_start_timer)
    app.after_request(_count)
    # Outermost, so the spans, the limiter and every handler see the client's address and scheme.
    app.wsgi_app = trust_proxies(app.wsgi_app, settings.trusted_proxy_hops)
    return app


def _refuse_large_bodies():
    """413 from the declared length, before authentication or parsing read anything; a chunked
    body is measured as it is read (gateway.body). The error handlers render both."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()


def _start_timer():
    g.started = time.perf_counter()


def _count(response):
    rule = request.url_rule
    started = g.get("started")
    count_request(rule.rule if rule else "unmatched", request.method, response.status_code,
                  None if started is None else time.perf_counter() - started)
    return response
