"""What detect shards read and write: checkpoints, the series a shard owns, points to replay."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.catalog import configs
from services.catalog.configs import Scope
from services.catalog.db import is_postgresql
from services.catalog.episodes import MISSING
from services.catalog.models import SERIES_BEHIND, Anomaly, Checkpoint, PointRow, Series
from services.catalog.series import number_of
from services.common.sharding import shard_of


def save_checkpoints(session: Session, checkpoints: Sequence[tuple[str, bytes, float]], now: float) -> None:
    """Keeps the newest checkpoint of each known series, of those given and the one stored."""
    known = set(session.scalars(select(Series.id).where(Series.id.in_([c[0] for c in checkpoints]))))
    newest: dict[str, tuple[bytes, float]] = {}  # one row per series, however often a call names it
    for series_id, state, state_ts in checkpoints:
        if series_id in known and (series_id not in newest or state_ts >= newest[series_id][1]):
            newest[series_id] = (state, state_ts)
    if not newest:
        return
    # One upsert, in series order, that never replaces a newer state with an older one: compared
    # with the stored row as it is when written (a concurrent saver's committed state included),
    # where reading the rows first let an older state overwrite a newer one saved meanwhile, and
    # two first savers of a series failed on the duplicate key.
    table = Checkpoint.__table__
    insert = (postgresql.insert if is_postgresql(session) else sqlite.insert)(table).values([
        {"series_id": series_id, "state": state, "state_ts": state_ts, "saved_at": now}
        for series_id, (state, state_ts) in sorted(newest.items())])
    session.execute(insert.on_conflict_do_update(
        index_elements=[table.c.series_id],
        set_={"state": insert.excluded.state, "state_ts": insert.excluded.state_ts,
              "saved_at": insert.excluded.saved_at},
        where=table.c.state_ts <= insert.excluded.state_ts))


@dataclass
class ShardSeriesRow:
    series: Series
    checkpoint: Checkpoint | None
    config: dict
    missing_data_open: bool


def shard_series(session: Session, shard_index: int, shard_count: int,
                 batch: int = 1000) -> Iterator[ShardSeriesRow]:
    """Every series the shard owns, with its checkpoint and effective configuration."""
    last_id = ""
    while True:
        rows = session.scalars(select(Series).where(Series.id > last_id)
                               .order_by(Series.id).limit(batch)).all()
        if not rows:
            return
        last_id = rows[-1].id
        yield from _with_state(session, [s for s in rows if shard_of(s.id, shard_count) == shard_index])


def behind_series(session: Session, shard_index: int, shard_count: int, after_id: str,
                  limit: int) -> tuple[list[ShardSeriesRow], str]:
    """The shard's series with stored points after `scored_until`, from the first `limit` behind
    series (of every shard) after `after_id`; and the id to continue after ("" when done). One
    read (of the partial index ix_series_behind on SQLite); the others only when a series is behind."""
    rows = session.scalars(select(Series).where(text(SERIES_BEHIND), Series.id > after_id)
                           .order_by(Series.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    owned = [s for s in rows if shard_of(s.id, shard_count) == shard_index]
    return list(_with_state(session, owned)), rows[-1].id if more else ""


def _with_state(session: Session, owned: list[Series]) -> Iterator[ShardSeriesRow]:
    """The series with their checkpoint, open outage and effective configuration."""
    if not owned:
        return
    ids = [s.id for s in owned]
    checkpoints = {c.series_id: c for c in session.scalars(
        select(Checkpoint).where(Checkpoint.series_id.in_(ids)))}
    missing_open = set(session.scalars(select(Anomaly.series_id).where(
        Anomaly.series_id.in_(ids), Anomaly.source == MISSING, Anomaly.ended_at.is_(None))))
    by_scope: dict[tuple[str, str], list[Series]] = {}
    for s in owned:
        by_scope.setdefault((s.account_id, s.environment), []).append(s)
    effective: dict[str, dict] = {}
    for (account_id, environment), members in by_scope.items():
        effective.update(configs.effective_for_series(
            session, Scope(account_id, environment), [(s.id, s.name) for s in members]))
    for s in owned:
        yield ShardSeriesRow(s, checkpoints.get(s.id), effective[s.id], s.id in missing_open)


def read_points(session: Session, series_id: str, after: float | None, limit: int,
                latest_before: float | None = None) -> tuple[list[tuple[float, float]], bool]:
    query = select(PointRow.ts, PointRow.value).where(PointRow.series_number == number_of(series_id))
    if latest_before is not None:
        rows = session.execute(query.where(PointRow.ts <= latest_before)
                               .order_by(PointRow.ts.desc()).limit(limit + 1)).all()
        return [(ts, v) for ts, v in reversed(rows[:limit])], len(rows) > limit
    if after is not None:
        query = query.where(PointRow.ts > after)
    rows = session.execute(query.order_by(PointRow.ts).limit(limit + 1)).all()
    return [(ts, v) for ts, v in rows[:limit]], len(rows) > limit
