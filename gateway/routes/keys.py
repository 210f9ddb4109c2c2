"""API keys: `POST|GET /v1/api-keys`, `DELETE /v1/api-keys/{id}` (scope `admin`)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from anomalywatch.catalog.v1 import accounts_pb2
from anomalywatch.common.v1 import common_pb2
from gateway import fields, render
from gateway.auth import requires
from gateway.clients import call_as_caller
from gateway.request_io import json_object, page_request, pagination
from services.common.errors import ServiceError
from services.common.timeutil import parse_iso, to_timestamp

bp = Blueprint("keys", __name__)
_ENV = {"live": common_pb2.ENVIRONMENT_LIVE, "test": common_pb2.ENVIRONMENT_TEST}
FIELDS = ("name", "scopes", "environment", "expires_at")


def _call(method, message):
    return call_as_caller("accounts", method, message)


@bp.post("/v1/api-keys")
@requires("admin")
def create_key():
    body = json_object()
    fields.only_known(body, FIELDS)
    # null is absent; any other value must have the right type (0, [] or {} are not defaults)
    name = "" if body.get("name") is None else fields.string(body["name"], "name")
    scopes = body.get("scopes")
    environment = body.get("environment")  # absent: catalog gives the caller's own
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ServiceError("VALIDATION_ERROR", "scopes must be a list of scope names",
                           {"field": "scopes", "allowed": ["ingest", "read", "write", "forecast", "admin"]})
    if environment is not None and (not isinstance(environment, str) or environment not in _ENV):
        raise ServiceError("VALIDATION_ERROR", "environment must be live or test", {"field": "environment"})
    message = accounts_pb2.CreateApiKeyRequest(
        name=name, scopes=scopes,
        environment=common_pb2.ENVIRONMENT_UNSPECIFIED if environment is None else _ENV[environment])
    if body.get("expires_at") is not None:
        try:
            message.expire_time.CopyFrom(to_timestamp(parse_iso(body["expires_at"])))
        except (ValueError, TypeError, OverflowError):
            raise ServiceError("VALIDATION_ERROR", "expires_at must be an ISO 8601 time, at the latest "
                               "9999-12-31T23:59:59Z", {"field": "expires_at"}) from None
    answer = _call("CreateApiKey", message)
    response = jsonify({"data": {**render.api_key(answer.api_key), "key": answer.key}})
    response.status_code = 201
    return response


@bp.get("/v1/api-keys")
@requires("admin")
def list_keys():
    fields.only_known_params(fields.PAGE_PARAMS)
    answer = _call("ListApiKeys", accounts_pb2.ListApiKeysRequest(page=page_request()))
    return jsonify({"data": [render.api_key(k) for k in answer.api_keys],
                    "pagination": pagination(answer.page)})


@bp.delete("/v1/api-keys/<key_id>")
@requires("admin")
def revoke_key(key_id: str):
    _call("RevokeApiKey", accounts_pb2.RevokeApiKeyRequest(key_id=fields.path_id(key_id, "key_id")))
    return "", 204
