"""`X-Test-Only` posts: the metric names a client sent while testing its set-up (kept 24 h, the
newest KEEP_NEWEST names of a scope)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.catalog.configs import Scope
from services.catalog.models import TestPost

KEEP_SECONDS = 86400.0
KEEP_NEWEST = 1000


def delete_expired(session: Session, now: float) -> int:
    """Deletes the names no longer listed (last posted over KEEP_SECONDS ago); returns how many."""
    return session.execute(delete(TestPost).where(TestPost.last_post_at < now - KEEP_SECONDS)).rowcount or 0


def record(session: Session, scope: Scope, metrics: Sequence[str], now: float) -> None:
    delete_expired(session, now)
    counts = Counter(metrics)
    existing = {p.metric: p for p in session.scalars(select(TestPost).where(
        *_scoped(scope), TestPost.metric.in_(list(counts))))}
    for metric, count in counts.items():
        row = existing.get(metric)
        if row is None:
            session.add(TestPost(account_id=scope.account_id, environment=scope.environment, metric=metric,
                                 count=count, last_post_at=now))
        else:
            row.count += count
            row.last_post_at = now
    session.flush()
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
