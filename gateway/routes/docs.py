"""The API reference (no auth): `GET /v1/openapi.json` and `GET /docs`, rendered from it."""

from __future__ import annotations

import functools
import json

from flask import Blueprint, Response

from gateway.openapi import document
from gateway.openapi.html import render

bp = Blueprint("docs", __name__)


# The document never changes while the process runs: both answers are built once, on first use.
@functools.cache
def _json() -> str:
    return json.dumps(document(), separators=(",", ":")) + "\n"


@functools.cache
def _page() -> str:
    return render(document())


@bp.get("/v1/openapi.json")
def openapi_json():
    return Response(_json(), mimetype="application/json")


@bp.get("/docs")
def docs():
    return Response(_page(), mimetype="text/html")
