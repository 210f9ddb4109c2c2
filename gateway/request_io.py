"""Reading requests: JSON bodies and the list, time and tag query parameters of the contract."""
from __future__ import annotations

import json
import re
from typing import Any

from flask import request

from anomalywatch.common.v1 import common_pb2
from gateway.body import body_bytes
from gateway.fields import query_integer, string
from services.common.errors import ServiceError
from services.common.timeutil import parse_iso, to_timestamp
from services.ingest.validation import MAX_TAGS

DEFAULT_LIMIT, MAX_LIMIT = 50, 1000
MAX_OFFSET = 2**31 - 1  # the protos' int32
# The last page whose offset fits MAX_OFFSET at every limit: one bound, not one per limit.
MAX_PAGE = MAX_OFFSET // MAX_LIMIT + 1


class DuplicateKey(ValueError):
    """A JSON object names one key twice; which value was meant cannot be told."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return obj


def parse_json(raw: bytes) -> Any:
    """JSON text as Python; DuplicateKey for an object with a repeated key (the json module keeps
    the last one silently, so {"metric": "a", "metric": "b"} would be stored as b), ValueError or
    RecursionError when it does not parse."""
    return json.loads(raw, object_pairs_hook=_unique_keys)


def json_body(required: bool = True) -> Any:
    """The parsed JSON body; 415 unless it is application/json, 400 unless it parses (with every
    key of an object once), 413 past 1 MiB."""
    raw = body_bytes()
    if not raw and not required:
        return {}
    if not request.is_json:
        raise ServiceError("UNSUPPORTED_MEDIA_TYPE", "send the body as application/json",
                           {"content_type": request.content_type or ""})
    try:
        return parse_json(raw)
    except DuplicateKey as error:
        raise ServiceError("VALIDATION_ERROR", f"duplicate key {json.dumps(error.key)} in the JSON body: "
                           "give each key once", {"field": error.key}) from None
    except (ValueError, RecursionError):
        raise ServiceError("VALIDATION_ERROR", "request body is not valid JSON", {"field": "body"}) from None


def json_object(required: bool = True) -> dict[str, Any]:
    body = json_body(required)
    if not isinstance(body, dict):
        raise ServiceError("VALIDATION_ERROR", "request body must be a JSON object", {"field": "body"})
    return body


def page_request() -> common_pb2.PageRequest:
    """`limit` (default 50, lowered to 1000), `offset`, or 1-based `page`."""
    limit = query_integer("limit", minimum=1)  # no maximum: a larger one is lowered
    limit = min(limit or DEFAULT_LIMIT, MAX_LIMIT)
    offset = query_integer("offset", maximum=MAX_OFFSET)
    page = query_integer("page", minimum=1, maximum=MAX_PAGE)
    if page is not None and offset is None:
        offset = (page - 1) * limit
    return common_pb2.PageRequest(page_size=limit, offset=offset or 0)


def pagination(page: common_pb2.PageInfo) -> dict[str, Any]:
    return {"total": page.total_size, "limit": page.page_size, "offset": page.offset,
            "has_more": page.offset + page.page_size < page.total_size}


# A time whose offset's `+` came unencoded, as a shell user types it (`?from=...T00:00:00+05:00`):
# the query string decodes it to a space, where nothing else can stand after a time of day.
_DECODED_PLUS = re.compile(r"([T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$", re.ASCII)


def time_param(name: str, into) -> None:
    """Copies an ISO 8601 query parameter (a date alone is midnight UTC) into a Timestamp field."""
    raw = request.args.get(name)
    if raw:
        try:
            into.CopyFrom(to_timestamp(parse_iso(_DECODED_PLUS.sub(r"\1+\2", raw))))
        except (ValueError, OverflowError):
            raise ServiceError("VALIDATION_ERROR", f"{name} must be an ISO 8601 date or time",
                               {"field": name, "suggestion": "e.g. 2026-03-27T12:00:00Z"}) from None


def tag_filters() -> dict[str, str]:
    """`tag.<key>=<value>` query parameters; more than a series can carry match nothing, so they are
    refused before they cost the catalog a query."""
    tags = {string(k, k)[4:]: string(v, k) for k, v in request.args.items()
            if k.startswith("tag.") and len(k) > 4}
    if len(tags) > MAX_TAGS:
        raise ServiceError("VALIDATION_ERROR", f"at most {MAX_TAGS} tag filters (a series has at most "
                           f"{MAX_TAGS} tags), got {len(tags)}", {"field": "tag"})
    return tags
