"""The raw request body: read whole, at most MAX_BODY_BYTES, whether its length is declared or it
comes chunked; a body that cannot be read is the client's error, not the server's."""
from __future__ import annotations

from flask import g, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from services.common.errors import ServiceError

MAX_BODY_BYTES = 1024 * 1024
DISCARD_CAP = 16 * MAX_BODY_BYTES
# What reading a body can raise: Werkzeug's capped stream turns the server's OSError and ValueError
# into ClientDisconnected, but gunicorn's broken chunked framing (a bad chunk size, a missing CRLF)
# is a ParseException, which nothing turned into an answer: it was a 500.
_UNREADABLE = (ParseException, ClientDisconnected, OSError, ValueError)


def body_bytes() -> bytes:
    """The whole body; RequestEntityTooLarge (413) over the app's MAX_CONTENT_LENGTH, and
    VALIDATION_ERROR when the body's framing is broken.

    Werkzeug caps the body stream at that limit: a declared Content-Length over it raises at once,
    but a chunked body (no length) is cut at the limit and get_data() returns the cut part as if it
    were whole. So when a chunked body fills the limit, one more byte is read from the server's
    stream (the capped stream would refuse even a body of exactly the limit). The outcome is kept
    for the request: the rate limiter reads a flux post's body before the route does."""
    if "aw_body" not in g:
        g.aw_body = _read()
    if isinstance(g.aw_body, Exception):
        raise g.aw_body
    return g.aw_body


def _codings(header: str) -> list[str]:
    return [coding.strip(" \t").lower() for coding in header.split(",") if coding.strip(" \t")]


def _undecoded() -> ServiceError | None:
    """The refusal of a body the gateway would otherwise read as it came over the wire: one with a
    content coding (Content-Encoding: gzip, deflate, br, ...), or a transfer coding other than
    chunked (gunicorn takes `Transfer-Encoding: gzip, chunked` and undoes only the chunking).
    Nothing here decompresses, so a compressed body was parsed as JSON: a 400 "not valid JSON" for
    a gzip body, and whatever a mislabelled one held for the rest."""
    content = request.headers.get("Content-Encoding", "")
    if any(coding != "identity" for coding in _codings(content)):
        return ServiceError("UNSUPPORTED_MEDIA_TYPE", "compressed bodies are not accepted: send the body "
                            "uncompressed, without Content-Encoding",
                            {"field": "Content-Encoding", "content_encoding": content[:100],
                             "supported": ["identity"]})
    transfer = request.environ.get("HTTP_TRANSFER_ENCODING", "")
    if any(coding not in ("chunked", "identity") for coding in _codings(transfer)):
        return ServiceError("VALIDATION_ERROR", "transfer codings other than chunked are not accepted: "
                            "send the body uncompressed", {"field": "Transfer-Encoding",
                                                           "transfer_encoding": transfer[:100]})
    return None


def _read() -> bytes | Exception:
    refused = _undecoded()
    if refused is not None:
        discard_body(MAX_BODY_BYTES)  # the connection stays usable; a larger body is left unread
        return refused
    try:
        raw = request.get_data(cache=True)
        limit = request.max_content_length
        if (limit is not None and request.content_length is None and len(raw) >= limit
                and request.environ["wsgi.input"].read(1)):
            return RequestEntityTooLarge()
        return raw
    except RequestEntityTooLarge as error:
        return error
    except _UNREADABLE:
        return ServiceError("VALIDATION_ERROR", "the request body could not be read (broken chunked "
                            "encoding, or the connection ended early)", {"field": "body"})


def discard_body(cap: int = DISCARD_CAP) -> None:
    """Reads and drops what is left of a refused body, so the client gets the 413 instead of a reset
    connection; a body declared larger than `cap` is left unread."""
    if (request.content_length or 0) > cap:
        return
    stream = request.environ["wsgi.input"]
    try:
        while cap > 0:
            chunk = stream.read(min(cap, 65536))
            if not chunk:
                return
            cap -= len(chunk)
    except _UNREADABLE:
        return
