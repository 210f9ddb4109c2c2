"""The AnomalyWatch REST client: one method per endpoint of the v1 API, grouped by resource.

    from anomalywatch_sdk import Client
    client = Client("aw_live_...")
    client.ingest.point("api.requests", 42.0, tags={"host": "web-1"})
    for anomaly in client.anomalies.list(status="active"):
        print(anomaly["description"])
"""
from __future__ import annotations

import builtins
import datetime as _dt
import http.client
import io
import json as _json
import math
import random
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Union
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection

from . import errors
from .errors import ApiError, InvalidResponseError, RequestTimeout, TransportError

__all__ = ["Client", "DeadlineAdapter", "Page", "RateLimit"]

Timestamp = Union[str, int, float, _dt.datetime, _dt.date]
# 429: the gateway refused the request before doing anything, so any request may be sent again.
RATE_LIMITED = 429
# A proxy's answers for a gateway it could not reach or that did not answer in time, and the
# gateway's 503, which it also answers when a service behind it timed out after it may have
# committed: the request may or may not have been carried out, so only idempotent requests are
# sent again.
UNCERTAIN_STATUSES = (502, 503, 504)
IDEMPOTENT_METHODS = ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
# POSTs that may be resent after a lost answer: an exact repeat of a point changes nothing.
IDEMPOTENT_POSTS = ("/v1/ingest", "/flux/metric_data_post", "/v1/forecast")


@dataclass(frozen=True)
class RateLimit:
    """The rate-limit headers of the latest answer: per-minute limit, remaining, reset (unix s)."""
    limit: int | None
    remaining: int | None
    reset: int | None
    burst_limit: int | None = None
    burst_remaining: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        if "X-RateLimit-Limit" not in headers:
            return None

        def number(name: str) -> int | None:
            try:
                return int(float(headers[name]))
            except (KeyError, ValueError, OverflowError):  # OverflowError: "inf", "1e400"
                return None
        return cls(number("X-RateLimit-Limit"), number("X-RateLimit-Remaining"), number("X-RateLimit-Reset"),
                   number("X-RateLimit-Burst-Limit"), number("X-RateLimit-Burst-Remaining"))


@dataclass(frozen=True)
class Page:
    """One page of a list: `data`, `pagination` {total, limit, offset, has_more}, `meta`."""
    data: list[dict[str, Any]]
    pagination: dict[str, Any]
    meta: dict[str, Any] | None = None

    @property
    def has_more(self) -> bool:
        return bool(self.pagination.get("has_more"))

    @property
    def total(self) -> int | None:
        return self.pagination.get("total")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def iso(value: Timestamp | None) -> str | None:
    """ISO 8601 for the API: datetimes (naive ones are UTC) and dates; strings pass unchanged."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return iso(_dt.datetime.fromtimestamp(value, _dt.timezone.utc))
    raise TypeError(f"not a timestamp: {value!r}")


def _point_timestamp(value: Timestamp | None) -> str | int | float:
    """Ingest accepts unix seconds as they are; anything else becomes ISO 8601; None is now."""
    if value is None:
        return time.time()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return iso(value)  # type: ignore[return-value]


def _drop_none(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


def _is_page(body: Any) -> bool:
    """A list answer's shape: {"data": [...], "pagination": {...}} (`pagination`, `meta` optional)."""
    return (isinstance(body, dict) and isinstance(body.get("data"), list)
            and isinstance(body.get("pagination", {}), dict))


def _checked_key(api_key: Any) -> str:
    """The key without surrounding whitespace (a key read from a file ends in a newline). A key
    with other characters an HTTP header cannot carry is refused here, without echoing it: sent,
    it would fail inside requests with the whole header, key included, in the error message."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError("api_key is required (aw_live_... or aw_test_...)")
    api_key = api_key.strip()
    if not all("!" <= character <= "~" for character in api_key):
        raise ValueError("api_key must be printable ASCII without spaces (aw_live_... or aw_test_...)")
    return api_key


def _non_finite(value: Any, where: str = "") -> tuple[str, float] | None:
    """Where in a request body a NaN or infinity is (`points[3].value`), and which, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "the body", value
    if isinstance(value, Mapping):
        items = ((f"{where}.{key}" if where else str(key), item) for key, item in value.items())
    elif isinstance(value, (builtins.list, tuple)):
        items = ((f"{where}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for place, item in items:
        found = _non_finite(item, place)
        if found:
            return found
    return None


def _encode_body(body: Any, method: str, path: str) -> bytes:
    """The JSON of a request body, checked before anything is sent: JSON has no NaN or infinity
    (requests refused them only inside the send, which the retry loop took for a lost connection:
    the call slept through every retry and raised TransportError), and an object JSON cannot
    carry (a numpy integer, a Decimal) is a TypeError naming it."""
    try:
        return _json.dumps(body, allow_nan=False).encode("utf-8")
    except ValueError as error:
        found = _non_finite(body)
        if found is None:
            raise ValueError(f"{method} {path}: the request body is not JSON: {error}") from None
        where, value = found
        raise ValueError(f"{method} {path}: {where} is {value!r}, which JSON cannot carry: "
                         "send a finite number") from None
    except TypeError as error:
        raise TypeError(f"{method} {path}: the request body is not JSON: {error}") from None


def _segment(value: str) -> str:
    """One path segment: every reserved character percent-encoded (`/` too), and a name that is all
    dots (`.`, `..` are valid metric names) as %2E: sent as they are, URL parsing removes them as
    dot-segments and the request reaches another resource (`/v1/metrics/../anomaly_config` is
    `/v1/anomaly_config`)."""
    text = quote(str(value), safe="")
    return "%2E" * len(text) if text in (".", "..") else text


def _keep_dot_segments(url: str) -> str:
    """The prepared URL with the %2E segments _segment made put back: requests decodes %2E (an
    unreserved character) to `.` as it prepares a URL, after it has removed literal dot-segments,
    so a `.` or `..` segment left in its URL is one of ours."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    if not any(segment in (".", "..") for segment in segments):
        return url
    path = "/".join("%2E" * len(segment) if segment in (".", "..") else segment for segment in segments)
    return urlunsplit(parts._replace(path=path))


# The deadline of the attempt this thread is making (time.monotonic()), read by every socket read
# of the answer. requests' timeout bounds each read alone: a server that sends a byte now and then
# (a trickle of headers or body) held a call for ever.
_ATTEMPT = threading.local()


class _DeadlineReader(io.RawIOBase):
    """The socket reads of one HTTP answer, each given what is left of the attempt's deadline."""

    def __init__(self, raw: Any, sock: Any):
        self._raw = raw    # the SocketIO of sock.makefile: it keeps the socket open until closed
        self._sock = sock

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def readinto(self, buffer: Any) -> int:
        deadline = getattr(_ATTEMPT, "deadline", None)
        if deadline is None:
            return self._raw.readinto(buffer)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("the request's timeout passed while the answer was read")
        before = self._sock.gettimeout()
        self._sock.settimeout(remaining if before is None else min(before, remaining))
        try:
            return self._raw.readinto(buffer)
        finally:
            try:
                self._sock.settimeout(before)  # a kept-alive connection's next request sends with it
            except OSError:
                pass

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, **kwargs: Any):
        super().__init__(sock, *args, **kwargs)
        if isinstance(self.fp, io.BufferedReader):
            self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock))


class _DeadlineHTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _DeadlineResponse


class _DeadlineHTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _DeadlineResponse


class _DeadlineHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose answers are read within the Client's `timeout` as a whole (status
    line, headers and body), not per socket read. The Client mounts it on the session it makes."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools have their own connection classes
            manager.pool_classes_by_scheme = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}
        return manager


def _new_session() -> requests.Session:
    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, DeadlineAdapter())
    return session


class Client:
    """A client of one AnomalyWatch gateway with one API key.

    `timeout` (seconds) bounds each HTTP attempt as a whole: connecting, sending and reading the
    whole answer (with a `session` of your own, whose adapters are yours, it bounds each socket
    read unless you mount `DeadlineAdapter` on it). A 429 is retried up to `max_retries` times with
    exponential backoff and full jitter, never sooner than the answer's `Retry-After`; a
    `Retry-After` longer than `max_backoff` is not waited for (the error is raised). A 503,
    connection failures, timeouts and a proxy's 502 and 504 are retried the same way for idempotent
    requests only (GET, PUT, DELETE, ingest, whose exact repeats change nothing, and forecast).
    """

    def __init__(self, api_key: str, base_url: str = "http://127.0.0.1:8080", timeout: float = 10,
                 max_retries: int = 3, backoff_factor: float = 0.5, max_backoff: float = 60.0,
                 session: requests.Session | None = None, user_agent: str | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        api_key = _checked_key(api_key)
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._session = session or _new_session()
        self._session.headers.update({"Authorization": f"Bearer {api_key}", "Accept": "application/json",
                                      "User-Agent": user_agent or "anomalywatch-sdk-python/0.1"})
        self.last_rate_limit: RateLimit | None = None
        self.ingest = Ingest(self)
        self.anomalies = Anomalies(self)
        self.rules = Rules(self)
        self.metrics = Metrics(self)
        self.forecast = Forecast(self)
        self.api_keys = ApiKeys(self)

    def __repr__(self) -> str:  # never the key
        return f"Client(base_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one way requests are made ---------------------------------------------------------

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        exponential = min(self.max_backoff, self.backoff_factor * (2 ** attempt))
        delay = random.uniform(0, exponential)  # full jitter
        if retry_after is not None:
            delay = retry_after + random.uniform(0, min(1.0, self.backoff_factor))
        return delay

    def request(self, method: str, path: str, params: Mapping[str, Any] | None = None, json: Any = None,
                headers: Mapping[str, str] | None = None) -> requests.Response:
        """Sends one API request with retries; returns the successful response or raises."""
        method = method.upper()
        url = self.base_url + path
        retry_transport = method in IDEMPOTENT_METHODS or (method == "POST" and path in IDEMPOTENT_POSTS)
        data = None
        if json is not None:
            data = _encode_body(json, method, path)
            headers = {**(headers or {}), "Content-Type": "application/json"}
        attempt = 0
        while True:
            deadline = (time.monotonic() + self.timeout if isinstance(self.timeout, (int, float))
                        else None)
            outer, _ATTEMPT.deadline = getattr(_ATTEMPT, "deadline", None), deadline
            try:
                response = self._send(method, url, params, data, headers)
            except requests.RequestException as error:
                # a body read past the deadline comes as a ConnectionError from requests
                timed_out = isinstance(error, requests.Timeout) or (
                    deadline is not None and time.monotonic() >= deadline)
                if retry_transport and attempt < self.max_retries:
                    self._sleep(self._backoff(attempt, None))
                    attempt += 1
                    continue
                if timed_out:
                    raise RequestTimeout(f"{method} {path}: no answer within {self.timeout} s") from error
                raise TransportError(f"{method} {path}: {type(error).__name__}: {error}") from error
            finally:
                _ATTEMPT.deadline = outer
            self.last_rate_limit = RateLimit.from_headers(response.headers) or self.last_rate_limit
            if response.status_code < 400:
                return response
            error = self._error(response)
            retryable = response.status_code == RATE_LIMITED or (
                response.status_code in UNCERTAIN_STATUSES and retry_transport)
            if retryable and attempt < self.max_retries:
                retry_after = errors.parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is None or retry_after <= self.max_backoff:
                    self._sleep(self._backoff(attempt, retry_after))
                    attempt += 1
                    continue
            raise error

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, data: bytes | None,
              headers: Mapping[str, str] | None) -> requests.Response:
        """What Session.request does, with the path's %2E segments kept (see _keep_dot_segments)."""
        session = self._session
        prepared = session.prepare_request(requests.Request(method, url, params=params, data=data,
                                                            headers=headers))
        prepared.url = _keep_dot_segments(prepared.url)
        settings = session.merge_environment_settings(prepared.url, {}, None, None, None)
        return session.send(prepared, timeout=self.timeout, allow_redirects=True, **settings)

    @staticmethod
    def _error(response: requests.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        return errors.error_for(response.status_code, body, response.headers, response.text)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:  # a proxy's page or a cut-off body: the SDK's own error, not a JSON one
            text = response.text.strip()[:500]
            raise InvalidResponseError(f"{method} {path}: the HTTP {response.status_code} answer is not "
                                       f"JSON: {text!r}", response.status_code, text) from None

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        """The `data` of a single-resource answer `{"data": {...}}`."""
        body = self._json(method, path, **kwargs)
        return body["data"] if isinstance(body, dict) and "data" in body else body

    def _page(self, path: str, params: Mapping[str, Any]) -> Page:
        body = self._json("GET", path, params=_drop_none(params))
        if not _is_page(body):  # a proxy's or an older server's JSON: the SDK's error, not a KeyError
            raise InvalidResponseError(f"GET {path}: the answer is not a page of data: "
                                       f"{str(body)[:500]!r}", 200, str(body)[:500])
        return Page(body["data"], body.get("pagination", {}), body.get("meta"))

    def _iterate(self, path: str, params: Mapping[str, Any], page_size: int) -> Iterator[dict[str, Any]]:
        """Every item of a list, page by page (offset/limit), until `has_more` is false."""
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be 1..1000")
        offset = 0
        while True:
            page = self._page(path, {**params, "limit": page_size, "offset": offset})
            yield from page.data
            if not page.has_more or not page.data:
                return
            offset += len(page.data)

    # -- operations (no auth needed) -------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/healthz")

    def ready(self) -> dict[str, Any]:
        """`/readyz`; a not-ready gateway raises UnavailableError (after the retries)."""
        return self._json("GET", "/readyz")

    def openapi(self) -> dict[str, Any]:
        return self._json("GET", "/v1/openapi.json")


def _filters(tags: Mapping[str, str] | None, **params: Any) -> dict[str, Any]:
    out = _drop_none(params)
    for key, value in (tags or {}).items():
        out[f"tag.{key}"] = value
    return out


class _Resource:
    def __init__(self, client: Client):
        self._client = client


class Ingest(_Resource):
    """`POST /v1/ingest`, `GET /v1/ingest/test` and Anomify's `POST /flux/metric_data_post`."""

    def point(self, metric: str, value: float, timestamp: Timestamp | None = None,
              tags: Mapping[str, str] | None = None, source: str | None = None,
              test_only: bool = False) -> dict[str, Any]:
        """One point (timestamp defaults to now); the scored answer. Invalid: ValidationError."""
        body = _drop_none({"metric": metric, "value": value, "timestamp": _point_timestamp(timestamp),
                           "tags": dict(tags) if tags else None, "source": source})
        return self._client._json("POST", "/v1/ingest", json=body, headers=self._headers(test_only))

    def batch(self, points: Sequence[Mapping[str, Any]], test_only: bool = False) -> dict[str, Any]:
        """Up to 500 points. Returns the body of 200 and of 207 alike: {status, accepted, rejected,
        results: [one per point, in order; a rejected one is {index, status: 400, error}]}."""
        prepared = []
        for point in points:
            point = dict(point)
            if "timestamp" in point:
                point["timestamp"] = _point_timestamp(point["timestamp"])
            prepared.append(point)
        return self._client._json("POST", "/v1/ingest", json={"points": prepared},
                                  headers=self._headers(test_only))

    def test_posts(self, limit: int | None = None, offset: int | None = None) -> Page:
        """Recent `X-Test-Only` posts of this key's account and environment."""
        return self._client._page("/v1/ingest/test", {"limit": limit, "offset": offset})

    def anomify(self, metrics: Sequence[Mapping[str, Any]], key: str | None = None) -> dict[str, Any] | None:
        """Anomify-compatible bulk post (`metric`, `timestamp` unix int, `value`): None on 204, the
        207 body when some metrics were over quota. Uses this client's key unless `key` is given."""
        if key is None:
            key = self._client._session.headers["Authorization"].split(" ", 1)[1]
        body = {"key": key, "metrics": list(metrics)}
        return self._client._json("POST", "/flux/metric_data_post", json=body)

    @staticmethod
    def _headers(test_only: bool) -> dict[str, str] | None:
        return {"X-Test-Only": "true"} if test_only else None


class Anomalies(_Resource):
    """Anomaly episodes: list (all pages or one), get, acknowledge, resolve, stats, summary."""

    def page(self, limit: int | None = None, offset: int | None = None, *, status: str | None = None,
             severity: str | None = None, type: str | None = None, metric: str | None = None,
             metric_id: str | None = None, tags: Mapping[str, str] | None = None,
             from_: Timestamp | None = None, to: Timestamp | None = None) -> Page:
        params = _filters(tags, limit=limit, offset=offset, status=status, severity=severity, type=type,
                          metric=metric, metric_id=metric_id, to=iso(to))
        if from_ is not None:
            params["from"] = iso(from_)
        return self._client._page("/v1/anomalies", params)

    def list(self, *, page_size: int = 100, status: str | None = None, severity: str | None = None,
             type: str | None = None, metric: str | None = None, metric_id: str | None = None,
             tags: Mapping[str, str] | None = None, from_: Timestamp | None = None,
             to: Timestamp | None = None) -> Iterator[dict[str, Any]]:
        """Every matching anomaly, newest first, fetching pages as the iteration goes."""
        params = _filters(tags, status=status, severity=severity, type=type, metric=metric,
                          metric_id=metric_id, to=iso(to))
        if from_ is not None:
            params["from"] = iso(from_)
        return self._client._iterate("/v1/anomalies", params, page_size)

    def get(self, anomaly_id: str) -> dict[str, Any]:
        """One anomaly with `history` and `baseline_history`."""
        return self._client._data("GET", f"/v1/anomalies/{_segment(anomaly_id)}")

    def acknowledge(self, anomaly_id: str, note: str | None = None) -> dict[str, Any]:
        return self._client._data("POST", f"/v1/anomalies/{_segment(anomaly_id)}/acknowledge",
                                  json=_drop_none({"note": note}))

    def resolve(self, anomaly_id: str, note: str | None = None,
                root_cause: str | None = None) -> dict[str, Any]:
        return self._client._data("POST", f"/v1/anomalies/{_segment(anomaly_id)}/resolve",
                                  json=_drop_none({"note": note, "root_cause": root_cause}))

    def stats(self, from_: Timestamp | None = None, to: Timestamp | None = None) -> dict[str, Any]:
        params = _drop_none({"from": iso(from_), "to": iso(to)})
        return self._client._data("GET", "/v1/anomalies/stats", params=params)

    def summary(self) -> dict[str, Any]:
        return self._client._data("GET", "/v1/anomalies/summary")


class Rules(_Resource):
    """Threshold rules: `/v1/anomalies/rules`."""

    PATH = "/v1/anomalies/rules"

    def page(self, limit: int | None = None, offset: int | None = None) -> Page:
        return self._client._page(self.PATH, {"limit": limit, "offset": offset})

    def list(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._client._iterate(self.PATH, {}, page_size)

    def create(self, name: str, condition: Mapping[str, Any], severity: str | None = None,
               description: str | None = None, scope: str | Mapping[str, Any] | None = None,
               enabled: bool | None = None) -> dict[str, Any]:
        """`condition` is {"metric", "operator", "threshold"}; `scope` "global" or {"tags": {...}}."""
        body = _drop_none({"name": name, "description": description, "condition": dict(condition),
                           "severity": severity, "scope": scope, "enabled": enabled})
        return self._client._data("POST", self.PATH, json=body)

    def get(self, rule_id: str) -> dict[str, Any]:
        return self._client._data("GET", f"{self.PATH}/{_segment(rule_id)}")

    def update(self, rule_id: str, **fields: Any) -> dict[str, Any]:
        """PATCH: merges the fields given (`condition={"threshold": 150}` keeps the rest)."""
        return self._client._data("PATCH", f"{self.PATH}/{_segment(rule_id)}", json=fields)

    def delete(self, rule_id: str) -> None:
        self._client._json("DELETE", f"{self.PATH}/{_segment(rule_id)}")


class Metrics(_Resource):
    """Series, their points and their anomaly configuration."""

    def page(self, limit: int | None = None, offset: int | None = None, *, name: str | None = None,
             tags: Mapping[str, str] | None = None) -> Page:
        return self._client._page("/v1/metrics", _filters(tags, limit=limit, offset=offset, name=name))

    def list(self, *, name: str | None = None, tags: Mapping[str, str] | None = None,
             page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._client._iterate("/v1/metrics", _filters(tags, name=name), page_size)

    def get(self, metric_id: str) -> dict[str, Any]:
        return self._client._data("GET", f"/v1/metrics/{_segment(metric_id)}")

    def points(self, metric_id: str, from_: Timestamp | None = None, to: Timestamp | None = None,
               limit: int | None = None) -> builtins.list[dict[str, Any]]:
        """Raw points [{timestamp, value}] (at most `limit`, server default 1000)."""
        params = _drop_none({"from": iso(from_), "to": iso(to), "limit": limit})
        return self._client._data("GET", f"/v1/metrics/{_segment(metric_id)}/points", params=params)

    def get_anomaly_config(self, name_or_id: str) -> dict[str, Any]:
        """The effective configuration and, in `overrides`, the fields set at this level."""
        return self._client._data("GET", f"/v1/metrics/{_segment(name_or_id)}/anomaly_config")

    def put_anomaly_config(self, name_or_id: str, **fields: Any) -> dict[str, Any]:
        """Merges the fields given: enabled, spike_threshold, drop_threshold, min_data_points,
        comparison_window, sensitivity, seasonality."""
        return self._client._data("PUT", f"/v1/metrics/{_segment(name_or_id)}/anomaly_config", json=fields)


class Forecast(_Resource):
    """`POST /v1/forecast` and `GET /v1/forecast/models`."""

    def run(self, metric: str | None = None, *, metric_id: str | None = None,
            tags: Mapping[str, str] | None = None, horizon: str | int = "24h",
            model: str | None = None, confidence: float | None = None) -> dict[str, Any]:
        """{forecast: [{timestamp, value, lower, upper}], model, confidence, metric_id, step_seconds}."""
        if (metric is None) == (metric_id is None):
            raise ValueError("give exactly one of metric (a name) or metric_id")
        body = _drop_none({"metric": metric, "metric_id": metric_id, "tags": dict(tags) if tags else None,
                           "horizon": horizon, "model": model, "confidence": confidence})
        return self._client._json("POST", "/v1/forecast", json=body)

    __call__ = run

    def models(self) -> list[dict[str, Any]]:
        body = self._client._json("GET", "/v1/forecast/models")
        return body["data"] if isinstance(body, dict) and "data" in body else body


class ApiKeys(_Resource):
    """`/v1/api-keys` (scope admin)."""

    def create(self, scopes: Sequence[str], name: str | None = None, environment: str | None = None,
               expires_at: Timestamp | None = None) -> dict[str, Any]:
        """The new key's metadata with `key`, the full key, shown this once."""
        body = _drop_none({"name": name, "scopes": list(scopes), "environment": environment,
                           "expires_at": iso(expires_at)})
        return self._client._data("POST", "/v1/api-keys", json=body)

    def page(self, limit: int | None = None, offset: int | None = None) -> Page:
        return self._client._page("/v1/api-keys", {"limit": limit, "offset": offset})

    def list(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._client._iterate("/v1/api-keys", {}, page_size)

    def revoke(self, key_id: str) -> None:
        self._client._json("DELETE", f"/v1/api-keys/{_segment(key_id)}")
