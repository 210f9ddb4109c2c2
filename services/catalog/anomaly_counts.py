"""Upkeep of anomaly_counts (migration 0004): on PostgreSQL each backend that writes anomalies adds
to rows of its own slot, and backends come and go (a pool's overflow connections, restarts), so the
rows a count sums would grow without end. Folding moves every slot into slot 0, which writers never
use: they never wait for it beyond its own short transaction, and it skips rows a running writer
holds rather than waiting for them."""
from __future__ import annotations

from sqlalchemy import text

from services.catalog.db import Database

# Any fixed number: the advisory lock that lets one fold run at a time across catalog replicas.
FOLD_LOCK = 7_316_004_222

FOLD = text("""
WITH moved AS (
    DELETE FROM anomaly_counts WHERE ctid IN (
        SELECT ctid FROM anomaly_counts WHERE slot <> 0 FOR UPDATE SKIP LOCKED)
    RETURNING account_id, environment, status, severity, type, n),
folded AS (
    INSERT INTO anomaly_counts (account_id, environment, status, severity, type, slot, n)
    SELECT account_id, environment, status, severity, type, 0, sum(n) FROM moved
    GROUP BY account_id, environment, status, severity, type
    ON CONFLICT (account_id, environment, status, severity, type, slot)
    DO UPDATE SET n = anomaly_counts.n + excluded.n
    RETURNING 1)
SELECT count(*) FROM moved
""")


def fold_slots(db: Database) -> int:
    """Folds the backends' slots of anomaly_counts into slot 0 and returns how many rows it moved
    (0 on SQLite, which has one writer and keeps slot 0 only, or while another fold runs)."""
    if db.engine.dialect.name != "postgresql":
        return 0
    with db.transaction() as session:
        if not session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FOLD_LOCK}).scalar():
            return 0
        return int(session.execute(FOLD).scalar_one())
