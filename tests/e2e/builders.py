"""Small builders shared by the REST e2e tests: a fresh account, series by batch ingest, rules."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import requests

STEP = 60


@dataclass
class User:
    """A key of an account, with a session that sends it and the gateway's base URL."""

    base: str
    account_id: str
    key: str
    http: requests.Session

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def get(self, path: str, **params) -> requests.Response:
        return self.http.get(self.url(path), params=params, timeout=30)

    def post(self, path: str, body=None) -> requests.Response:
        return self.http.post(self.url(path), json=body, timeout=60)

    def patch(self, path: str, body) -> requests.Response:
        return self.http.patch(self.url(path), json=body, timeout=30)

    def put(self, path: str, body) -> requests.Response:
        return self.http.put(self.url(path), json=body, timeout=30)

    def delete(self, path: str) -> requests.Response:
        return self.http.delete(self.url(path), timeout=30)

    def key_id(self) -> str:
        """This key's id (the `acknowledged_by` of its actions), found by its prefix."""
        keys = self.get("/v1/api-keys", limit=1000).json()["data"]
        return next(k["id"] for k in keys if k["prefix"] == self.key[:12])


def new_user(
    system,
    scopes: str = "ingest,read,write,forecast,admin",
    environment: str = "live",
    account: str | None = None,
) -> User:
    """A key of a new account (or of `account`)."""
    account_id, key = system.new_key(scopes=scopes, environment=environment, account=account)
    return User(system.base_url, account_id, key, system.session(key))


def grid(n: int, end_offset: float = 5 * STEP, step: float = STEP) -> list[float]:
    """`n` timestamps `step` apart, the last `end_offset` seconds before now."""
    last = float(int(time.time() - end_offset))
    return [last - step * (n - 1 - i) for i in range(n)]


def ingest(
    user: User,
    metric: str,
    timestamps: Sequence[float],
    values: Sequence[float],
    tags: Mapping[str, str] | None = None,
) -> list[dict]:
    """Posts a series in batches of 500; every point must be accepted. The per-point results."""
    results: list[dict] = []
    for start in range(0, len(timestamps), 500):
        points = [
            {"metric": metric, "value": float(v), "timestamp": t, "tags": dict(tags or {})}
            for t, v in zip(timestamps[start : start + 500], values[start : start + 500], strict=True)
        ]
        answer = user.post("/v1/ingest", {"points": points})
        assert answer.status_code == 200, answer.text
        results.extend(answer.json()["results"])
    return results


def create_rule(
    user: User,
    name: str,
    metric: str,
    operator: str,
    threshold: float,
    severity: str = "warning",
    scope: object = "global",
    **extra,
) -> dict:
    answer = user.post(
        "/v1/anomalies/rules",
        {
            "name": name,
            "condition": {"metric": metric, "operator": operator, "threshold": threshold},
            "severity": severity,
            "scope": scope,
            **extra,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]


def error_of(response: requests.Response) -> dict:
    """The error envelope's inner object (asserting the envelope's shape)."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]
