"""Deletes points older than the retention window, in bounded batches, on a timer (which also folds
anomaly_counts' slots). Anomalies, rules and configs are kept."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import delete, select

from services.catalog import anomaly_counts
from services.catalog.db import Database, one_of
from services.catalog.models import PointRow, Series

log = logging.getLogger(__name__)


def purge_once(db: Database, retention_seconds: float, now: float, series_per_transaction: int = 500) -> int:
    """Deletes the points before now - retention, series by series (each a key range of the points
    table's primary key), one statement for a bounded number of series a transaction; returns how
    many."""
    cutoff = now - retention_seconds
    removed, after = 0, None
    while True:
        with db.transaction() as session:
            query = select(Series.number)
            if after is not None:
                query = query.where(Series.number > after)
            numbers = session.scalars(query.order_by(Series.number).limit(series_per_transaction)).all()
            if not numbers:
                return removed
            result = session.execute(delete(PointRow).where(one_of(session, PointRow.series_number, numbers),
                                                            PointRow.ts < cutoff))
            removed += result.rowcount or 0
        after = numbers[-1]


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

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                removed = purge_once(self.db, self.retention, self.clock())
                if removed:
                    log.info("purged points past retention", extra={"points": removed})
                anomaly_counts.fold_slots(self.db)
            except Exception:  # noqa: BLE001 - a failed purge is retried on the next tick
                log.exception("retention purge failed")
