"""Deletes what ages out, in bounded transactions, on a timer that runs a round at start and then
every `every_seconds`: points older than the retention window, and test posts past their 24 h
(trial_posts). The round also folds anomaly_counts' slots. Anomalies, rules and configs are kept;
so are the series and their counters (`point_count` counts every point a series received: it
decides when the series stops learning, whatever has been purged since)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import delete, select, text, tuple_

from services.catalog import anomaly_counts, trial_posts
from services.catalog.db import Database, one_of
from services.catalog.models import PointRow, Series

log = logging.getLogger(__name__)

# Any fixed number: the advisory lock that lets one purge delete at a time across catalog replicas
# (PostgreSQL), so replicas started together neither wait on each other's rows nor deadlock.
PURGE_LOCK = 7_316_004_223


def purge_once(db: Database, retention_seconds: float, now: float, series_per_transaction: int = 500,
               points_per_transaction: int = 50_000) -> int:
    """Deletes the points before now - retention, series by series (each a key range of the points
    table's primary key), a bounded number of series and at most `points_per_transaction` points a
    transaction, so a large backlog (a shortened window, a long pause) never holds SQLite's one
    write lock, or PostgreSQL's row locks, for long; returns how many. On PostgreSQL a transaction
    takes PURGE_LOCK first, and the purge stops when another replica's holds it (that one goes on)."""
    cutoff = now - retention_seconds
    removed, after = 0, None
    while True:
        with db.read() as session:
            query = select(Series.number)
            if after is not None:
                query = query.where(Series.number > after)
            numbers = session.scalars(query.order_by(Series.number).limit(series_per_transaction)).all()
        if not numbers:
            return removed
        while True:
            with db.transaction() as session:
                if session.get_bind().dialect.name == "postgresql" and not session.execute(
                        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": PURGE_LOCK}).scalar():
                    return removed
                expired = (select(PointRow.series_number, PointRow.ts)
                           .where(one_of(session, PointRow.series_number, numbers), PointRow.ts < cutoff)
                           .limit(points_per_transaction))
                result = session.execute(delete(PointRow).where(
                    tuple_(PointRow.series_number, PointRow.ts).in_(expired)))
            deleted = result.rowcount or 0
            removed += deleted
            if deleted < points_per_transaction:
                break
        after = numbers[-1]


def purge_test_posts(db: Database, now: float) -> int:
    """Deletes the test posts no longer listed (last posted over trial_posts.KEEP_SECONDS ago);
    returns how many. Recording a post deletes them too, but only while someone keeps posting."""
    with db.transaction() as session:
        return trial_posts.delete_expired(session, now)


class RetentionTimer:
    def __init__(self, db: Database, retention_seconds: float, every_seconds: float = 3600.0,
                 clock: Callable[[], float] = time.time):
        self.db, self.retention, self.every, self.clock = db, retention_seconds, every_seconds, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def run_round(self) -> None:
        """One round of upkeep; a step that fails is logged and retried on the next round, and the
        others still run."""
        now = self.clock()
        steps = (("purge points past retention", lambda: purge_once(self.db, self.retention, now), "points"),
                 ("purge expired test posts", lambda: purge_test_posts(self.db, now), "test_posts"),
                 ("fold anomaly_counts slots", lambda: anomaly_counts.fold_slots(self.db), "rows"))
        for what, step, unit in steps:
            try:
                done = step()
            except Exception:  # noqa: BLE001 - retried on the next round
                log.exception("%s failed", what)
                continue
            if done:
                log.info(what, extra={unit: done})

    def _loop(self) -> None:
        # A round at start: a catalog restarted more often than `every` would otherwise never purge.
        while not self._stop.is_set():
            self.run_round()
            self._stop.wait(self.every)
