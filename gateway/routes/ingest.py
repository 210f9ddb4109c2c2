"""`POST /v1/ingest` (one point or a batch) and `GET /v1/ingest/test`."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from anomalywatch.ingest.v1 import ingest_pb2
from gateway import fields
from gateway.auth import requires
from gateway.clients import call_as_caller
from gateway.render import point_result
from gateway.request_io import json_body, page_request, pagination
from services.common.errors import ServiceError
from services.common.timeutil import iso_of, to_timestamp
from services.ingest.pipeline import MAX_POINTS
from services.ingest.validation import PointError, parse_json_point

bp = Blueprint("ingest", __name__)


TEST_ONLY_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}


def is_test_only() -> bool:
    """The X-Test-Only header; a value that is neither yes nor no is refused, since storing the
    points of a client that meant a dry run cannot be undone."""
    raw = request.headers.get("X-Test-Only", "")
    test_only = TEST_ONLY_WORDS.get(raw.strip().lower())
    if test_only is None:
        raise ServiceError("VALIDATION_ERROR", f"X-Test-Only must be true or false, got {json.dumps(raw)}",
                           {"field": "X-Test-Only", "allowed": ["true", "false"]})
    return test_only


@dataclass
class Outcomes:
    """Per point: the JSON result of an accepted one, or the message and code of a rejected one."""
    results: list[dict | None]
    errors: list[str | None]
    codes: list[str | None]


def ingest_points(raw_points: list[Any], test_only: bool, integer_timestamps: bool = False,
                  all_or_nothing: bool = False) -> Outcomes:
    """Checks every point and sends the valid ones to ingest in one call (with `all_or_nothing`,
    ingest keeps none of them if one is rejected other than for the quota)."""
    aw = current_app.extensions["aw"]
    now = time.time()
    valid: list[ingest_pb2.Point] = []
    positions: list[int] = []
    errors: list[str | None] = [None] * len(raw_points)
    codes: list[str | None] = [None] * len(raw_points)
    for i, raw in enumerate(raw_points):
        try:
            p = parse_json_point(raw, now, aw.settings.retention_seconds, integer_timestamps)
        except PointError as error:
            errors[i], codes[i] = str(error), "VALIDATION_ERROR"
            continue
        valid.append(ingest_pb2.Point(metric=p.metric, value=p.value, time=to_timestamp(p.ts), tags=p.tags,
                                      source=p.source))
        positions.append(i)
    results: list[dict | None] = [None] * len(raw_points)
    if valid:
        answered = aw.ingest.ingest(g.api_key, valid, test_only, all_or_nothing)
        for position, result in zip(positions, answered, strict=True):
            if result.status == ingest_pb2.POINT_STATUS_REJECTED:
                errors[position], codes[position] = result.error, result.error_code
            else:
                results[position] = point_result(result)
    return Outcomes(results, errors, codes)


@bp.post("/v1/ingest")
@requires("ingest")
def ingest():
    test_only = is_test_only()
    body = json_body()
    if isinstance(body, dict) and "points" in body:
        return _batch(body, test_only)
    if not isinstance(body, dict):
        raise ServiceError("VALIDATION_ERROR", "body must be a point object or {\"points\": [...]}",
                           {"field": "body"})
    outcome = ingest_points([body], test_only)
    error = outcome.errors[0]
    if error is not None:
        raise ServiceError("VALIDATION_ERROR", error,
                           {"index": 0, "reason": outcome.codes[0], "field": field_of(error)})
    return jsonify(outcome.results[0])


# A point's messages are the contract's fixed words (Anomify's), from the gateway's checks and from
# catalog's (order, quota) alike; each names its field by how it begins.
_FIELD_OF_MESSAGE = (("invalid metrics element", "body"), ("invalid metric", "metric"),
                     ("over quota", "metric"), ("invalid value", "value"),
                     ("no value parameter present", "value"), ("invalid timestamp", "timestamp"),
                     ("invalid tag", "tags"), ("invalid source", "source"))
_UNKNOWN_FIELD = "Invalid parameter received - "


def field_of(message: str) -> str:
    """The point's field a rejection names (`details.field` of an invalid single point)."""
    if message.startswith(_UNKNOWN_FIELD):
        return message.removeprefix(_UNKNOWN_FIELD)
    return next((name for prefix, name in _FIELD_OF_MESSAGE if message.startswith(prefix)), "body")


def _batch(body: dict[str, Any], test_only: bool):
    extra = sorted(set(body) - {"points"})
    if extra:
        raise ServiceError("VALIDATION_ERROR", f"Invalid parameter received - {extra[0]}",
                           {"field": extra[0]})
    points = body["points"]
    if not isinstance(points, list) or not points:
        raise ServiceError("VALIDATION_ERROR", "points must be a non-empty list", {"field": "points"})
    if len(points) > MAX_POINTS:
        raise ServiceError("VALIDATION_ERROR",
                           f"too many points - at most {MAX_POINTS} per request, got {len(points)}",
                           {"field": "points", "suggestion": "split the batch"})
    outcome = ingest_points(points, test_only)
    errors = outcome.errors
    answer = []
    for i, (result, error) in enumerate(zip(outcome.results, errors, strict=True)):
        if error is not None:
            answer.append({"index": i, "status": 400, "error": error})
        else:  # the single-point answer, its `status` (ingested/duplicate) named `outcome` here
            answer.append({"index": i, "status": 200, "outcome": result.pop("status"), **result})
    rejected = sum(e is not None for e in errors)
    status = "ingested" if rejected == 0 else ("rejected" if rejected == len(points) else "partial")
    response = jsonify({"status": status, "accepted": len(points) - rejected, "rejected": rejected,
                        "results": answer})
    response.status_code = 200 if rejected == 0 else 207
    return response


@bp.get("/v1/ingest/test")
@requires("ingest")
def test_posts():
    fields.only_known_params(fields.PAGE_PARAMS)
    answer = call_as_caller("ingest", "ListTestPosts", ingest_pb2.ListTestPostsRequest(page=page_request()))
    posts = [{"metric": p.metric, "count": p.count, "last_posted_at": iso_of(p.last_post_time)}
             for p in answer.posts]
    return jsonify({"data": posts, "pagination": pagination(answer.page)})
