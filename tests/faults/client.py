"""What the fault tests share: a client that ingests with retries the way a real one would, the
series it sends, and the checks that every acknowledged point is stored once and scored once."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import requests
from sqlalchemy import create_engine, select

from services.catalog.models import Anomaly, Series
from services.common.timeutil import iso
from services.detect import codes
from services.detect.engine import DetectionEngine

STEP = 60
RETRYABLE = (requests.ConnectionError, requests.Timeout)


@dataclass
class Dataset:
    """A few series with spikes, sent in batches that hold `per_batch` consecutive points of each."""
    names: list[str]
    ts: np.ndarray
    values: dict[str, np.ndarray]
    per_batch: int = 10

    @classmethod
    def make(cls, prefix: str, n: int, series: int = 3, seed: int = 1) -> Dataset:
        rng = np.random.default_rng(seed)
        ts = np.floor(time.time()) - STEP * (n + 5) + STEP * np.arange(n)
        values = {}
        for k in range(series):
            v = 100.0 + rng.normal(0, 2.0, n)
            v[rng.choice(np.arange(150, n - 20), 4, replace=False)] += 80  # spikes past the learning phase
            values[f"{prefix}.s{k}"] = v
        return cls(list(values), ts, values)

    def batches(self, start: int = 0, stop: int | None = None) -> list[list[dict]]:
        stop = len(self.ts) if stop is None else stop
        return [[{"metric": name, "value": float(self.values[name][i]), "timestamp": float(self.ts[i])}
                 for name in self.names for i in range(lo, min(lo + self.per_batch, stop))]
                for lo in range(start, stop, self.per_batch)]


@dataclass
class Outcome:
    acknowledged: list[dict] = field(default_factory=list)  # every point of a 2xx answer
    answers: list[dict] = field(default_factory=list)  # the per point results of 2xx answers, in order
    unavailable: int = 0  # 503 answers, each in the envelope with UNAVAILABLE
    connection_errors: int = 0
    failures: list[str] = field(default_factory=list)  # anything a retrying client must never see


class RetryingIngester:
    """Posts each batch until it is answered 2xx: a 503 or a connection error is retried after a
    short pause, anything else is a failure. Bounded by `deadline` seconds."""

    def __init__(self, base_url: str, key: str, batches: list[list[dict]], interval: float = 0.05,
                 deadline: float = 120.0, workers: int = 1):
        self.base_url, self.key, self.batches = base_url, key, batches
        self.interval, self.deadline, self.workers = interval, deadline, workers
        self.outcome = Outcome()
        self.sent = 0  # batches acknowledged so far
        self._lock = threading.Lock()
        self._next = 0
        self._threads: list[threading.Thread] = []
        self._open = threading.Event()  # cleared while paused
        self._open.set()
        self._in_flight = 0

    def run(self) -> Outcome:
        self.start()
        return self.join()

    def start(self) -> RetryingIngester:
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(self.workers)]
        for t in self._threads:
            t.start()
        return self

    def join(self) -> Outcome:
        for t in self._threads:
            t.join(self.deadline + 30)
        return self.outcome

    def wait_for(self, batches: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.sent < batches and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.sent >= batches, f"only {self.sent} batches acknowledged in {timeout}s"

    def pause(self, timeout: float = 30.0) -> None:
        """Sends nothing more until resume(); returns once no request is in flight."""
        self._open.clear()
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self._in_flight, "a request is still in flight"

    def resume(self) -> None:
        self._open.set()

    def _take(self) -> list[dict] | None:
        with self._lock:
            if self._next >= len(self.batches):
                return None
            self._next += 1
            return self.batches[self._next - 1]

    def _work(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.key}"
        stop_at = time.monotonic() + self.deadline
        while (batch := self._take()) is not None:
            while True:
                self._open.wait()
                with self._lock:
                    self._in_flight += 1
                if time.monotonic() > stop_at:
                    self._record(failure=f"batch not acknowledged within {self.deadline}s")
                    return
                try:
                    answer = session.post(f"{self.base_url}/v1/ingest", json={"points": batch}, timeout=30)
                except RETRYABLE:
                    self._record(connection_error=True)
                    session = _fresh(session)
                    time.sleep(0.1)
                    continue
                if answer.status_code == 200:
                    self._record(batch=batch, results=answer.json()["results"])
                    break
                if answer.status_code == 503 and _is_unavailable(answer):
                    self._record(unavailable=True)
                    time.sleep(0.1)
                    continue
                self._record(failure=f"{answer.status_code}: {answer.text[:300]}")
                return
            time.sleep(self.interval)

    def _record(self, batch=None, results=None, unavailable=False, connection_error=False, failure=None):
        with self._lock:
            self._in_flight -= 1
            if batch is not None:
                self.outcome.acknowledged.extend(batch)
                self.outcome.answers.extend(results)
                self.sent += 1
            self.outcome.unavailable += unavailable
            self.outcome.connection_errors += connection_error
            if failure:
                self.outcome.failures.append(failure)


def _fresh(session: requests.Session) -> requests.Session:
    """A new connection pool after a refused or reset connection, as a client library would."""
    headers = dict(session.headers)
    session.close()
    fresh = requests.Session()
    fresh.headers.update(headers)
    return fresh


def _is_unavailable(answer: requests.Response) -> bool:
    try:
        error = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return error.get("code") == "UNAVAILABLE" and set(error) == {"code", "message", "details"}


def assert_unavailable(answer: requests.Response) -> None:
    assert answer.status_code == 503 and _is_unavailable(answer), f"{answer.status_code}: {answer.text[:300]}"


# ---------------------------------------------------------------------------- checks after recovery
def series_ids(api: requests.Session, base_url: str, names: list[str]) -> dict[str, str]:
    ids = {}
    for name in names:
        found = api.get(f"{base_url}/v1/metrics", params={"name": name}, timeout=30).json()["data"]
        assert len(found) == 1, found
        ids[name] = found[0]["id"]
    return ids


def assert_stored_exactly_once(api: requests.Session, base_url: str, data: Dataset,
                               acknowledged: list[dict]) -> None:
    """Every acknowledged point is stored, once, read back through GET /v1/metrics/{id}/points."""
    ids = series_ids(api, base_url, data.names)
    for name in data.names:
        answer = api.get(f"{base_url}/v1/metrics/{ids[name]}/points", params={"limit": 10_000}, timeout=30)
        assert answer.status_code == 200, answer.text
        stored = [(p["timestamp"], p["value"]) for p in answer.json()["data"]]
        times = [t for t, _ in stored]
        assert len(times) == len(set(times)), f"{name}: a point is stored twice"
        by_time = dict(stored)
        mine = [p for p in acknowledged if p["metric"] == name]
        assert mine, f"no acknowledged point of {name}"
        missing = [p for p in mine if by_time.get(iso(p["timestamp"])) != p["value"]]
        assert not missing, f"{name}: {len(missing)} acknowledged points not stored, e.g. {missing[:3]}"


def wait_scored(database_url: str, data: Dataset, until: float, timeout: float = 60.0) -> dict[str, Series]:
    """Waits until catalog's scored_until of every series reached `until`; returns the rows."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as connection:
                found = connection.execute(select(Series).where(Series.name.in_(data.names)))
                rows = {r.name: r for r in found}
            if len(rows) == len(data.names) and all(r.scored_until == until for r in rows.values()):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError("scored_until never reached the last point: "
                                     + str({n: (r.scored_until, until) for n, r in rows.items()}))
            time.sleep(0.3)
    finally:
        engine.dispose()


def assert_scored_exactly_once(database_url: str, data: Dataset, upto: int) -> None:
    """Points [0, upto) of every series were scored once each, in order: catalog covers all of
    them (scored_until, point_count) and holds exactly the statistical episodes an uninterrupted
    run of the same engine opens (a point scored twice or skipped would shift them)."""
    rows = wait_scored(database_url, data, float(data.ts[upto - 1]))
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            for name, s in rows.items():
                assert s.point_count == upto, f"{name}: {s.point_count} points stored, {upto} sent"
                opened = connection.execute(select(Anomaly.started_at).where(
                    Anomaly.series_id == s.id, Anomaly.source == "stat").order_by(Anomaly.started_at)
                ).scalars().all()
                expected = reference_opened(data, name, upto)
                assert expected, "the reference run opened no episode: the check would prove nothing"
                assert opened == expected, f"{name}: episodes {opened} != uninterrupted run {expected}"
    finally:
        engine.dispose()


def reference(data: Dataset, name: str, upto: int):
    return DetectionEngine().score([name] * upto, data.ts[:upto], data.values[name][:upto], {})


def reference_opened(data: Dataset, name: str, upto: int) -> list[float]:
    batch = reference(data, name, upto)
    events = zip(data.ts[:upto], batch.episode_event, strict=True)
    return [float(t) for t, e in events if e == codes.EVENT_OPEN]


def assert_scores_continue(data: Dataset, answers: list[dict], points: list[dict]) -> None:
    """The scores the live system gave `points` equal an uninterrupted offline run's: the state
    it restored after the fault is the state it would have had."""
    index = {float(t): i for i, t in enumerate(data.ts)}
    for name in data.names:
        expected = reference(data, name, len(data.ts))
        pairs = [(index[p["timestamp"]], a) for p, a in zip(points, answers, strict=True)
                 if p["metric"] == name]
        assert pairs
        for i, answer in pairs:
            assert answer["anomaly_score"] is not None, f"{name} point {i} not scored: {answer}"
            assert abs(answer["anomaly_score"] - float(expected.score[i])) < 1e-5, (name, i, answer)


def wait_detect_reachable(api: requests.Session, base_url: str, timeout: float = 30.0) -> None:
    """Posts points of a probe series until one comes back scored: ingest's channel to a restarted
    shard reconnects with a backoff of up to 2 s, and until then points are stored unscored."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = api.post(f"{base_url}/v1/ingest", json={"metric": "probe.detect", "value": 1.0,
                                                        "timestamp": time.time()}, timeout=30)
        if answer.status_code == 200 and answer.json()["scored"]:
            return
        time.sleep(0.2)
    raise AssertionError(f"ingest could not reach detect within {timeout}s")
