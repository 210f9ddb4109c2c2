"""`X-Test-Only` posts: the metric names a client sent while testing its set-up (kept 24 h)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.catalog.configs import Scope
from services.catalog.models import TestPost

KEEP_SECONDS = 86400.0


def record(session: Session, scope: Scope, metrics: Sequence[str], now: float) -> None:
    session.execute(delete(TestPost).where(TestPost.last_post_at < now - KEEP_SECONDS))
    counts = Counter(metrics)
    existing = {p.metric: p for p in session.scalars(select(TestPost).where(
        TestPost.account_id == scope.account_id, TestPost.environment == scope.environment,
        TestPost.metric.in_(list(counts))))}
    for metric, count in counts.items():
        row = existing.get(metric)
        if row is None:
            session.add(TestPost(account_id=scope.account_id, environment=scope.environment, metric=metric,
                                 count=count, last_post_at=now))
        else:
            row.count += count
            row.last_post_at = now


def recent(session: Session, scope: Scope, now: float, offset: int, limit: int) -> tuple[list[TestPost], int]:
    where = (TestPost.account_id == scope.account_id, TestPost.environment == scope.environment,
             TestPost.last_post_at >= now - KEEP_SECONDS)
    total = session.scalar(select(func.count()).select_from(TestPost).where(*where)) or 0
    rows = session.scalars(select(TestPost).where(*where)
                           .order_by(TestPost.last_post_at.desc(), TestPost.metric)
                           .offset(offset).limit(limit))
    return list(rows), total
