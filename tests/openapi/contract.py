"""Checking a real HTTP answer against the OpenAPI document: the status is documented for the
operation, the media type matches, the body validates against the documented schema, and the
documented required headers are present and of their type."""

from __future__ import annotations

import json
import re
from typing import Any

import requests
from jsonschema import Draft202012Validator

from gateway.openapi import document

FORMATS = Draft202012Validator.FORMAT_CHECKER


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = doc["components"][section][name]
    return node


def _pattern(template: str) -> re.Pattern:
    # `{name_or_id}` is Flask's `path` converter: it may hold a `/`.
    parts = [
        "(.+)" if part == "{name_or_id}" else "([^/]+)" if part.startswith("{") else re.escape(part)
        for part in template.split("/")
    ]
    return re.compile("^" + "/".join(parts) + "$", re.DOTALL)


def template_of(doc: dict[str, Any], path: str) -> str | None:
    """The documented path template a concrete path matches (literal segments win, as in Flask)."""
    candidates = sorted((t.count("{"), t) for t in doc["paths"] if _pattern(t).match(path))
    return candidates[0][1] if candidates else None


class Contract:
    def __init__(self, doc: dict[str, Any] | None = None):
        self.doc = doc or document()
        self.seen: set[tuple[str, str, int]] = set()

    def operation(self, template: str, method: str) -> dict[str, Any]:
        return self.doc["paths"][template][method.lower()]

    def schema_validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        # $refs are `#/components/...`: put the components beside the schema at its root.
        return Draft202012Validator({**schema, "components": self.doc["components"]}, format_checker=FORMATS)

    def check(self, response: requests.Response) -> Any:
        """Validates one answer; returns its parsed JSON body (or text). Records what was seen."""
        request = response.request
        path = requests.utils.urlparse(request.url).path
        template = template_of(self.doc, requests.utils.unquote(path))
        assert template, f"{path} matches no documented path"
        op = self.operation(template, request.method)
        status = response.status_code
        assert str(status) in op["responses"], (request.method, template, status, response.text[:500])
        answer = resolve(self.doc, op["responses"][str(status)])
        for name, header in (answer.get("headers") or {}).items():
            header = resolve(self.doc, header)
            if header.get("required"):
                assert name in response.headers, (request.method, template, status, name)
                value = response.headers[name]
                if header["schema"].get("type") == "integer":
                    assert re.fullmatch(r"\d+", value), (name, value)
                    self.schema_validator(header["schema"]).validate(int(value))
        content = answer.get("content")
        body: Any = None
        if not content:
            assert response.content == b"", (request.method, template, status, response.text[:200])
        else:
            media = response.headers.get("Content-Type", "").split(";")[0].strip()
            assert media in content, (request.method, template, status, media, list(content))
            schema = content[media]["schema"]
            body = json.loads(response.content) if media == "application/json" else response.text
            errors = sorted(self.schema_validator(schema).iter_errors(body), key=lambda e: list(e.path))
            assert not errors, (
                request.method,
                template,
                status,
                [f"{list(e.path)}: {e.message[:300]}" for e in errors[:5]],
                response.text[:800],
            )
        self.seen.add((template, request.method.lower(), status))
        return body
