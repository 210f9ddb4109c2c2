"""The series registry: a series is a metric name plus tags within an account and environment."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.common.ids import new_id
from services.catalog.configs import Scope
from services.catalog.models import Series, SeriesTag


def canonical_tags(tags: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(tags.items())), separators=(",", ":"), ensure_ascii=False)


def series_key(name: str, tags: Mapping[str, str]) -> str:
    return hashlib.sha256(f"{name}\x00{canonical_tags(tags)}".encode()).hexdigest()


@dataclass(frozen=True, eq=False)
class SeriesRequest:
    key: str
    name: str
    tags: Mapping[str, str]


def _insert(session: Session):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)


def resolve(session: Session, scope: Scope, wanted: Sequence[SeriesRequest], max_series: int | None,
            now: float) -> dict[str, Series]:
    """The series of each key, created when new and within `max_series`; keys over the quota are
    missing from the answer. Existing rows are locked for the rest of the transaction so that
    concurrent writers to one series apply in order."""
    keys = [w.key for w in wanted]
    query = select(Series).where(Series.account_id == scope.account_id,
                                 Series.environment == scope.environment, Series.series_key.in_(keys))
    found = {s.series_key: s for s in session.scalars(query.with_for_update())}
    first_of_key: dict[str, SeriesRequest] = {}
    for w in wanted:
        first_of_key.setdefault(w.key, w)
    missing = [w for w in first_of_key.values() if w.key not in found]
    if not missing:
        return found
    if max_series is not None:
        count = session.scalar(select(func.count()).select_from(Series).where(
            Series.account_id == scope.account_id, Series.environment == scope.environment)) or 0
        missing = missing[:max(0, max_series - count)]
    if missing:
        new_rows = [{"id": new_id("met"), "account_id": scope.account_id, "environment": scope.environment,
                     "name": w.name, "series_key": w.key, "tags_json": canonical_tags(w.tags),
                     "created_at": now, "point_count": 0, "step_seconds": 0.0} for w in missing]
        insert = _insert(session)
        # A concurrent writer may create the same series: keep theirs.
        session.execute(insert(Series).on_conflict_do_nothing(
            index_elements=["account_id", "environment", "series_key"]), new_rows)
        created = {s.series_key: s for s in session.scalars(
            select(Series).where(Series.account_id == scope.account_id, Series.environment == scope.environment,
                                 Series.series_key.in_([w.key for w in missing])).with_for_update())}
        ours = {r["id"] for r in new_rows}
        tag_rows = [{"series_id": created[w.key].id, "key": k, "value": v}
                    for w in missing if w.key in created and created[w.key].id in ours for k, v in w.tags.items()]
        if tag_rows:
            session.execute(insert(SeriesTag).on_conflict_do_nothing(), tag_rows)
        found.update(created)
    return found


def tags_of(series: Series) -> dict[str, str]:
    return json.loads(series.tags_json or "{}")
