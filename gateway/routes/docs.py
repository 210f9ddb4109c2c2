"""The API reference (no auth): `GET /v1/openapi.json` and `GET /docs`, rendered from it."""

from __future__ import annotations

import functools

from flask import Blueprint, Response, jsonify

from gateway.openapi import document
from gateway.openapi.html import render

bp = Blueprint("docs", __name__)


@functools.cache
def _page() -> str:
    return render(document())


@bp.get("/v1/openapi.json")
def openapi_json():
    return jsonify(document())


@bp.get("/docs")
def docs():
    return Response(_page(), mimetype="text/html")
