"""SQLite commits never checkpoint the WAL themselves; the database's own thread does (PASSIVE)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from services.catalog.db import WAL_SIZE_LIMIT, Database, migrate


def test_commits_leave_the_wal_to_the_background_checkpoint(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/catalog.db"
    migrate(url)
    db = Database(url, checkpoint_seconds=3600.0)  # no background round here: the test calls it
    try:
        with db.transaction() as session:
            session.execute(text("CREATE TABLE filler (payload BLOB)"))
        for _ in range(30):  # ~1.5 MB: past SQLite's own 1000-page autocheckpoint
            with db.transaction() as session:
                session.execute(text("INSERT INTO filler VALUES (randomblob(50000))"))
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        frames, copied = db.checkpoint_wal()
        assert frames > 300 and copied == frames  # nothing had been copied; now all of it is
        with db.read() as session:
            assert session.execute(text("SELECT count(*) FROM filler")).scalar() == 30
    finally:
        db.dispose()


def test_a_checkpointed_wal_gives_back_the_disk_of_a_burst(tmp_path: Path):
    """After a burst of writes the WAL file is as large as the burst; once checkpointed and
    restarted by the next write, it is cut back to WAL_SIZE_LIMIT instead of staying that size."""
    url = f"sqlite:///{tmp_path}/catalog.db"
    wal = tmp_path / "catalog.db-wal"
    migrate(url)
    db = Database(url, checkpoint_seconds=3600.0)
    try:
        with db.transaction() as session:
            session.execute(text("CREATE TABLE filler (payload BLOB)"))
        for _ in range(WAL_SIZE_LIMIT * 3 // 2 // 100_000):
            with db.transaction() as session:
                session.execute(text("INSERT INTO filler VALUES (randomblob(100000))"))
        assert wal.stat().st_size > WAL_SIZE_LIMIT
        frames, copied = db.checkpoint_wal()
        assert copied == frames
        with db.transaction() as session:  # the first write after a full checkpoint restarts the WAL
            session.execute(text("INSERT INTO filler VALUES (randomblob(10))"))
        assert wal.stat().st_size <= WAL_SIZE_LIMIT
    finally:
        db.dispose()
