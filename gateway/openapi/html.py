"""The readable reference (`GET /docs`): the OpenAPI document rendered to one self-contained HTML page
on the server (no script, nothing fetched from elsewhere)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")
STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
main{max-width:1100px;margin:0 auto;padding:1.5rem 2rem 4rem}
nav{background:#1d2330;color:#fff;padding:.8rem 2rem}nav a{color:#9cd2ff;margin-right:1rem}
h1{margin-top:0}h2{border-bottom:2px solid #dde3ea;padding-bottom:.3rem;margin-top:2.5rem}
section.op{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:.8rem 1.2rem;margin:1rem 0}
.method{display:inline-block;min-width:4.5rem;text-align:center;font-weight:700;color:#fff;border-radius:4px;
padding:0 .4rem;margin-right:.6rem}.get{background:#2b7bb9}.post{background:#2f9e55}.put{background:#b7791f}
.patch{background:#8a5cc2}.delete{background:#c0392b}
.path{font-family:ui-monospace,monospace;font-size:1.05rem;font-weight:600}
table{border-collapse:collapse;width:100%;margin:.4rem 0 .8rem}th,td{text-align:left;vertical-align:top;
border-bottom:1px solid #eef1f4;padding:.25rem .5rem}th{background:#f3f5f8}
code{font-family:ui-monospace,monospace;background:#f1f3f6;padding:0 .2rem;border-radius:3px}
.scope{float:right;font-size:.85rem;background:#fff4d6;border:1px solid #ecd28c;border-radius:4px;
padding:0 .4rem}
.muted{color:#667}
"""


def _inline(text: str) -> str:
    """Escapes, then the document's bits of Markdown: `code` and **bold**, paragraphs."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return "".join(f"<p>{p.strip()}</p>" for p in out.split("\n\n") if p.strip())


def _anchor(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts)).strip("-")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(schema: dict[str, Any]) -> str:
    """A short human type of a schema: links for $refs, unions, enums, limits."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f'<a href="#schema-{_anchor(name)}">{html.escape(name)}</a>'
    if "allOf" in schema:  # a named schema narrowed inline (an error's codes): the name says it
        parts = [s for s in schema["allOf"] if "$ref" in s] or schema["allOf"]
        return " &amp; ".join(_type(s) for s in parts)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    if "const" in schema:
        return f"<code>{html.escape(json.dumps(schema['const']))}</code>"
    kind = schema.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " | ".join(html.escape(str(k)) for k in kinds)
    if "array" in kinds and "items" in schema:
        text = text.replace("array", f"array of {_type(schema['items'])}")
    if (
        "object" in kinds
        and isinstance(schema.get("additionalProperties"), dict)
        and not schema.get("properties")
    ):
        text = text.replace("object", f"object of {_type(schema['additionalProperties'])}")
    return text + _limits(schema)


def _limits(schema: dict[str, Any]) -> str:
    bits = []
    if "enum" in schema:
        bits.append(
            "one of " + ", ".join(f"<code>{html.escape(json.dumps(v))}</code>" for v in schema["enum"])
        )
    for key, label in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("maxProperties", "max entries"),
        ("format", "format"),
        ("pattern", "pattern"),
        ("default", "default"),
    ):
        if key in schema:
            bits.append(
                f"{label} <code>{html.escape(json.dumps(schema[key]) if key != 'pattern' else schema[key])}"
                f"</code>"
            )
    return f' <span class="muted">({"; ".join(bits)})</span>' if bits else ""


def _properties(schema: dict[str, Any]) -> str:
    props = schema.get("properties") or {}
    if not props:
        return ""
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code>{' <strong>*</strong>' if name in required else ''}</td>"
        f"<td>{_type(sub)}{_nested(sub)}</td><td>{_inline(sub.get('description', ''))}</td></tr>"
        for name, sub in props.items()
    )
    closed = (
        ""
        if schema.get("additionalProperties") is not False
        else '<p class="muted">No other fields are accepted.</p>'
    )
    return f"<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>{rows}</table>{closed}"


def _nested(schema: dict[str, Any]) -> str:
    """Inline objects (not $refs) are spelled out under their field."""
    for option in [schema, *schema.get("oneOf", []), *schema.get("anyOf", []), *schema.get("allOf", [])]:
        if option.get("properties") and "$ref" not in option:
            return _properties(option)
    return ""


def _schema_block(schema: dict[str, Any]) -> str:
    return f"<p>{_type(schema)}</p>{_nested(schema)}"


def _parameters(op: dict[str, Any], doc: dict[str, Any]) -> str:
    params = [
        doc["components"]["parameters"][_ref_name(p["$ref"])] if "$ref" in p else p
        for p in op.get("parameters", [])
    ]
    if not params:
        return ""
    rows = "".join(
        f"<tr><td><code>{html.escape(p['name'])}</code>{' <strong>*</strong>' if p.get('required') else ''}"
        f"</td><td>{p['in']}</td><td>{_type(p['schema'])}</td><td>{_inline(p.get('description', ''))}</td>"
        f"</tr>"
        for p in params
    )
    head = "<tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr>"
    return f"<h4>Parameters</h4><table>{head}{rows}</table>"


def _responses(op: dict[str, Any], doc: dict[str, Any]) -> str:
    rows = []
    for status, answer in op["responses"].items():
        if "$ref" in answer:
            answer = doc["components"]["responses"][_ref_name(answer["$ref"])]
        content = answer.get("content") or {}
        body = "; ".join(  # a success's inline wrapper ({"data": ...}) is spelled out
            f"<code>{html.escape(media)}</code> {_type(c['schema'])}"
            f"{_nested(c['schema']) if int(status) < 400 else ''}"
            for media, c in content.items()
        )
        links = ", ".join(
            f'<a href="#op-{html.escape(link["operationId"])}">{html.escape(link["operationId"])}</a> '
            f"<code>{html.escape(json.dumps(link['parameters']))}</code>"
            for link in (answer.get("links") or {}).values()
        )
        if links:
            body += f'<br><span class="muted">then:</span> {links}'
        rows.append(
            f"<tr><td><strong>{status}</strong></td><td>{_inline(answer['description'])}</td>"
            f"<td>{body or '<span class=muted>no body</span>'}</td></tr>"
        )
    return (
        f"<h4>Responses</h4><table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>{''.join(rows)}"
        f"</table>"
    )


def _operation(path: str, method: str, op: dict[str, Any], doc: dict[str, Any]) -> str:
    scope = op.get("x-required-scope")
    who = f"scope <code>{scope}</code>" if scope else "any valid key" if op["security"] else "no auth"
    badge = f'<span class="scope">{who}</span>'
    body = op.get("requestBody")
    request = ""
    if body:
        schema = body["content"]["application/json"]["schema"]
        request = (
            f"<h4>Request body{' (optional)' if not body.get('required') else ''}</h4>{_schema_block(schema)}"
        )
    return (
        f'<section class="op" id="{_anchor(method, path)}"><a id="op-{html.escape(op["operationId"])}"></a>'
        f'{badge}<span class="method {method}">'
        f'{method.upper()}</span><span class="path">{html.escape(path)}</span>'
        f"<h3>{html.escape(op['summary'])}</h3>{_inline(op.get('description', ''))}"
        f"{_parameters(op, doc)}{request}{_responses(op, doc)}</section>"
    )


def render(doc: dict[str, Any]) -> str:
    info = doc["info"]
    by_tag: dict[str, list[str]] = {t["name"]: [] for t in doc.get("tags", [])}
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                by_tag.setdefault(item[method]["tags"][0], []).append(
                    _operation(path, method, item[method], doc)
                )
    tags = {t["name"]: t.get("description", "") for t in doc.get("tags", [])}
    sections = "".join(
        f'<h2 id="tag-{_anchor(tag)}">{html.escape(tag)}</h2>{_inline(tags.get(tag, ""))}{"".join(ops)}'
        for tag, ops in by_tag.items()
        if ops
    )
    schemas = "".join(
        f'<section class="op" id="schema-{_anchor(name)}"><h3>{html.escape(name)}</h3>'
        f"{_inline(schema.get('description', ''))}{_schema_block(schema)}</section>"
        for name, schema in doc["components"]["schemas"].items()
    )
    nav = "".join(f'<a href="#tag-{_anchor(t)}">{html.escape(t)}</a>' for t, ops in by_tag.items() if ops)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(info["title"])}'
        f'</title><meta name="viewport" content="width=device-width,initial-scale=1"><style>{STYLE}</style>'
        f'</head><body><nav>{nav}<a href="#schemas">Schemas</a><a href="/v1/openapi.json">openapi.json</a>'
        f'</nav><main><h1>{html.escape(info["title"])} <span class="muted">{html.escape(info["version"])}'
        f'</span></h1>{_inline(info.get("description", ""))}{sections}<h2 id="schemas">Schemas</h2>{schemas}'
        f"</main></body></html>"
    )
