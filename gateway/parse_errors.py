"""gunicorn's own answers in the contract's error envelope.

A request gunicorn cannot parse (a request line over its 4094-byte limit, too many or too large
headers, a malformed request line or header) never reaches Flask: gunicorn answers it itself, with
an HTML page. API.md says the envelope, always. gunicorn has no hook for the page; every such answer
goes through `gunicorn.util.write_error`, so the gateway process replaces that function. gunicorn
still decides the status and logs the request; only the page changes.
"""
from __future__ import annotations

import json

from gunicorn import util

MAX_ECHO_CHARS = 200    # gunicorn's message may quote the request line: at most this much of it
_FIELD = {414: "url", 431: "headers"}


def envelope(status: int, reason: str, message: str) -> tuple[int, str, dict]:
    """(status, reason, body) of one of gunicorn's errors, in the contract's codes: a refused
    proxy request is FORBIDDEN, gunicorn's own failure INTERNAL_ERROR, anything else the client
    sent that HTTP cannot carry VALIDATION_ERROR (400, as API.md pairs them)."""
    if status == 403:
        return 403, "Forbidden", {"error": {"code": "FORBIDDEN", "message": "request forbidden",
                                            "details": {}}}
    if status >= 500 and status != 501:     # 501: a transfer coding the client chose
        return 500, "Internal Server Error", {"error": {"code": "INTERNAL_ERROR", "message": "internal error",
                                                        "details": {}}}
    text = message or reason
    if len(text) > MAX_ECHO_CHARS:
        text = text[:MAX_ECHO_CHARS] + "..."
    details = {"field": _FIELD.get(status, "request")}
    if status == 414:
        details["suggestion"] = "send long values in the body (POST) or shorten the query"
    return 400, "Bad Request", {"error": {"code": "VALIDATION_ERROR", "message": text, "details": details}}


def write_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for gunicorn.util.write_error: the same answer, as a JSON envelope."""
    status, reason, body = envelope(status_int, reason, mesg)
    payload = json.dumps(body, ensure_ascii=True).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + payload)


def install() -> None:
    """Makes gunicorn answer its errors through `write_error` (call before the workers fork)."""
    util.write_error = write_error
