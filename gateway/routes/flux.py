"""Anomify-compatible `POST /flux/metric_data_post`: Anomify's own semantics and messages (not the
envelope), feeding the same pipeline as `/v1/ingest`."""
from __future__ import annotations

import json
import logging
import time

from flask import Blueprint, current_app, g, jsonify
from werkzeug.exceptions import RequestEntityTooLarge

from gateway.body import body_bytes, discard_body
from gateway.request_io import DuplicateKey, parse_json
from gateway.routes.ingest import ingest_points, is_test_only
from services.common.auth import bearer_key
from services.common.errors import ServiceError
from services.ingest.pipeline import MAX_POINTS
from services.ingest.validation import PointError, parse_json_point

log = logging.getLogger(__name__)
bp = Blueprint("flux", __name__)
PATH = "/flux/metric_data_post"


def flux_error(status: int, message: str):
    response = jsonify({"code": status, "message": message})
    response.status_code = status
    return response


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error):
    discard_body()
    return flux_error(413, "payload too large")


@bp.errorhandler(ServiceError)
def service_error(error: ServiceError):
    """What the pipeline behind answers (ingest unavailable, a refused header), in Anomify's shape:
    a flux client reads `code` and `message`, never the envelope."""
    return flux_error(error.http_status, error.message)


@bp.errorhandler(Exception)
def unexpected(_error: Exception):
    log.exception("unhandled error on the flux endpoint")  # everything to the log, nothing to the client
    return flux_error(500, "internal error")


@bp.post(PATH)
def metric_data_post():
    try:
        raw = body_bytes()
    except ServiceError as error:
        if error.details.get("field") != "body":  # compressed: 415 (gateway.body)
            return flux_error(error.http_status, error.message)
        return flux_error(400, "invalid POST data - the body could not be read")  # its framing is broken
    if not raw:
        return flux_error(400, "no POST data received")
    try:
        body = parse_json(raw)
    except DuplicateKey as error:
        return flux_error(400, f"invalid json data - duplicate key {json.dumps(error.key)}")
    except (ValueError, RecursionError):
        return flux_error(400, "invalid json data")
    if not isinstance(body, dict):
        return flux_error(400, "invalid json data")
    for name in body:
        if name not in ("key", "metrics"):
            return flux_error(400, f"Invalid parameter received - {name}")
    if not body.get("key") or not isinstance(body["key"], str):
        return flux_error(401, "no key passed")
    try:
        g.api_key = bearer_key(f"Bearer {body['key']}")
        g.principal = current_app.extensions["aw"].principals.authenticate(g.api_key)
        g.principal.require("ingest")
    except ServiceError as error:
        return flux_error(error.http_status if error.http_status in (401, 403, 503) else 401,
                          "invalid key" if error.code == "UNAUTHORIZED" else error.message)
    metrics = body.get("metrics")
    if metrics is None or metrics == []:
        return flux_error(400, "no metric data passed")
    if not isinstance(metrics, list):
        return flux_error(400, "invalid metrics element")
    if len(metrics) > MAX_POINTS:
        return flux_error(400, f"too many metrics - at most {MAX_POINTS} per post")
    test_only = is_test_only()
    settings = current_app.extensions["aw"].settings
    now = time.time()
    for element in metrics:  # any invalid metric rejects the whole post, before anything is stored
        try:
            parse_json_point(element, now, settings.retention_seconds, integer_timestamps=True)
        except PointError as error:
            return flux_error(400, str(error))
    # All or nothing: a metric out of order (judged by catalog) rejects the post, and nothing of it
    # is stored; the quota alone keeps the others (207).
    outcome = ingest_points(metrics, test_only, integer_timestamps=True, all_or_nothing=True)
    rejected = [i for i, e in enumerate(outcome.errors) if e is not None]
    if not rejected:
        return "", 204
    for i in rejected:
        if outcome.codes[i] != "OVER_QUOTA":
            return flux_error(400, _as_posted(outcome.errors[i], metrics[i]["timestamp"]))
    return _partial(metrics, outcome, rejected)


def _as_posted(error: str, timestamp: int) -> str:
    """The message naming the timestamp as posted (unix seconds), as flux's other messages do:
    `invalid timestamp - <ISO> - <why>` from catalog becomes `invalid timestamp - <unix> - <why>`."""
    prefix, _, rest = error.partition(" - ")
    if prefix != "invalid timestamp" or " - " not in rest:
        return error
    return f"{prefix} - {timestamp} - {rest.partition(' - ')[2]}"


def _partial(metrics, outcome, rejected):
    names = [m["metric"] for m in metrics]
    processed = [names[i] for i in range(len(names)) if i not in set(rejected)]
    over_quota = [i for i in rejected if outcome.codes[i] == "OVER_QUOTA"]
    error = (f"over quota - {outcome.errors[over_quota[0]].removeprefix('over quota - ')} and an additional "
             f"{len(over_quota)} new metrics were posted that have been rejected") if over_quota else \
        outcome.errors[rejected[0]]
    response = jsonify({
        "code": 207,
        "data": [{"metric": names[i], "status": 400 if outcome.errors[i] else 204,
                  **({"error": outcome.errors[i]} if outcome.errors[i] else {})} for i in range(len(names))],
        "error": error,
        "message": f"{len(processed)} metrics were processed and {len(rejected)} metrics were rejected",
        "rejected metrics": [names[i] for i in rejected], "rejected metrics count": len(rejected),
        "processed metrics": processed, "processed metrics count": len(processed),
        "submitted metrics count": len(names)})
    response.status_code = 207
    return response
