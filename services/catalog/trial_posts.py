"""`X-Test-Only` posts: the metric names a client sent while testing its set-up (kept 24 h, the
newest KEEP_NEWEST names of a scope)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.catalog.configs import Scope
from services.catalog.db import is_postgresql
from services.catalog.models import TestPost

KEEP_SECONDS = 86400.0
KEEP_NEWEST = 1000


def delete_expired(session: Session, now: float) -> int:
    """Deletes the names no longer listed (last posted over KEEP_SECONDS ago); returns how many."""
    return session.execute(delete(TestPost).where(TestPost.last_post_at < now - KEEP_SECONDS)).rowcount or 0


def record(session: Session, scope: Scope, metrics: Sequence[str], now: float) -> None:
    """Adds the post's names to the scope's list. One upsert, in name order: a concurrent post of
    the same names (another replica's) adds its counts to the same rows, or waits for the first
    to commit and then adds (reading the rows and writing them back lost one post's counts, and
    two first posts of a name failed on the duplicate key)."""
    delete_expired(session, now)
    counts = Counter(metrics)
    if counts:
        table = TestPost.__table__
        insert = (postgresql.insert if is_postgresql(session) else sqlite.insert)(table).values([
            {"account_id": scope.account_id, "environment": scope.environment, "metric": metric,
             "count": count, "last_post_at": now} for metric, count in sorted(counts.items())])
        later = insert.excluded.last_post_at > table.c.last_post_at
        session.execute(insert.on_conflict_do_update(
            index_elements=[table.c.account_id, table.c.environment, table.c.metric],
            set_={"count": table.c["count"] + insert.excluded["count"],
                  "last_post_at": case((later, insert.excluded.last_post_at), else_=table.c.last_post_at)}))
    _keep_newest(session, scope)


def _scoped(scope: Scope):
    return (TestPost.account_id == scope.account_id, TestPost.environment == scope.environment)


def _newest_first():
    return (TestPost.last_post_at.desc(), TestPost.metric)


def _keep_newest(session: Session, scope: Scope) -> None:
    """Deletes the scope's names past the newest KEEP_NEWEST: a client testing with ever new names
    must not grow the table (nor the list) without end."""
    newest = select(TestPost.metric).where(*_scoped(scope)).order_by(*_newest_first()).limit(KEEP_NEWEST)
    session.execute(delete(TestPost).where(*_scoped(scope), TestPost.metric.not_in(newest.scalar_subquery()))
                    .execution_options(synchronize_session=False))


def recent(session: Session, scope: Scope, now: float, offset: int, limit: int) -> tuple[list[TestPost], int]:
    where = (*_scoped(scope), TestPost.last_post_at >= now - KEEP_SECONDS)
    total = session.scalar(select(func.count()).select_from(TestPost).where(*where)) or 0
    rows = session.scalars(select(TestPost).where(*where).order_by(*_newest_first())
                           .offset(offset).limit(limit))
    return list(rows), total
