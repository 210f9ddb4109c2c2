"""The series registry: a series is a metric name plus tags within an account and environment."""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.catalog.configs import Scope
from services.catalog.db import execute_many, in_list, is_postgresql, run_prepared
from services.catalog.models import Series, SeriesTag
from services.common.ids import new_id

# json.dumps with these options builds an encoder per call: one, built once, writes the same text
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical_tags(tags: Mapping[str, str]) -> str:
    return _CANONICAL.encode(dict(sorted(tags.items())))


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


@dataclass(eq=False)
class SeriesState:
    """The write path's copy of a series row (plain attributes: no ORM bookkeeping per point);
    `points.write_points` writes the changed fields back with one UPDATE per batch."""
    id: str
    number: int                 # the series' key in the points table
    account_id: str
    environment: str
    name: str
    tags_json: str
    first_ts: float | None
    last_ts: float | None
    last_value: float | None
    point_count: int
    step_seconds: float
    scored_until: float | None = None
    created: bool = False  # by this transaction (a rolled-back write answers no id for it)


_STATE_COLUMNS = (Series.id, Series.number, Series.account_id, Series.environment, Series.name,
                  Series.tags_json, Series.first_ts, Series.last_ts, Series.last_value, Series.point_count,
                  Series.step_seconds, Series.scored_until, Series.series_key)


def _load(session: Session, scope: Scope, keys: Sequence[str]) -> dict[str, SeriesState]:
    rows = run_prepared(session, _load_statement,
                        {"account_id": scope.account_id, "environment": scope.environment}, keys=keys).all()
    return {row[-1]: SeriesState(*row[:-1]) for row in rows}


@functools.cache
def _load_statement(on_postgresql: bool):
    # FOR UPDATE: concurrent writers to one series apply in order (PostgreSQL; SQLite has one writer).
    # Every lock of series rows takes them in id order (PostgreSQL locks rows as the plan emits them,
    # and an index scan by key, another by id and a sequential scan emit them in different orders:
    # two writers each holding rows the other waits for deadlock). NO KEY UPDATE: the writes change
    # no key, so rows that only reference a series (an anomaly's foreign key) need not wait.
    return (select(*_STATE_COLUMNS).where(
        Series.account_id == bindparam("account_id"), Series.environment == bindparam("environment"),
        in_list(Series.series_key, "keys", on_postgresql))
        .order_by(Series.id).with_for_update(key_share=True))


def resolve(session: Session, scope: Scope, wanted: Sequence[SeriesRequest], max_series: int | None,
            now: float) -> dict[str, SeriesState]:
    """The series of each key, created when new and within `max_series`; keys over the quota are
    missing from the answer. Existing rows are locked for the rest of the transaction so that
    concurrent writers to one series apply in order."""
    first_of_key: dict[str, SeriesRequest] = {}
    for w in wanted:
        first_of_key.setdefault(w.key, w)
    found = _load(session, scope, list(first_of_key))
    missing = [w for w in first_of_key.values() if w.key not in found]
    if not missing:
        return found
    if max_series is not None and is_postgresql(session):
        # The creators of a scope's series take turns from here to their commit, so each counts the
        # series the others created (two creating the last allowed series at once, each counting
        # without the other's, made one series too many); what another created meanwhile is known.
        _take_quota_turn(session, scope)
        found.update(_load(session, scope, [w.key for w in missing]))
        missing = [w for w in missing if w.key not in found]
    if max_series is not None and missing:
        count = session.scalar(select(func.count()).select_from(Series).where(
            Series.account_id == scope.account_id, Series.environment == scope.environment)) or 0
        missing = missing[:max(0, max_series - count)]
    if missing:
        numbers = next_numbers(session, len(missing))
        new_rows = [{"id": new_id("met"), "number": number, "account_id": scope.account_id,
                     "environment": scope.environment, "name": w.name, "series_key": w.key,
                     "tags_json": canonical_tags(w.tags), "created_at": now, "point_count": 0,
                     "step_seconds": 0.0} for w, number in zip(missing, numbers, strict=True)]
        new_rows.sort(key=lambda row: row["series_key"])  # two creators of the same keys wait in turn
        insert = _insert(session)
        # A concurrent writer may create the same series: keep theirs.
        session.execute(insert(Series).on_conflict_do_nothing(
            index_elements=["account_id", "environment", "series_key"]), new_rows)
        created = _load(session, scope, [w.key for w in missing])
        ours = {r["id"] for r in new_rows}
        for s in created.values():
            s.created = s.id in ours
        tag_rows = [{"series_id": created[w.key].id, "key": k, "value": v} for w in missing
                    if w.key in created and created[w.key].id in ours for k, v in w.tags.items()]
        if tag_rows:
            session.execute(insert(SeriesTag).on_conflict_do_nothing(), tag_rows)
        found.update(created)
    return found


# Any fixed number: the class of the PostgreSQL advisory locks (one per account and environment,
# keyed by hashtext of the scope) that creators of series under a quota take in turn. A collision
# of two scopes' hashes only makes their creators take turns too.
QUOTA_LOCK_CLASS = 7316


def _take_quota_turn(session: Session, scope: Scope) -> None:
    """Waits for the scope's other series creators to commit or roll back (PostgreSQL; SQLite's
    writers already take turns), holding the turn until this transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(:class, hashtext(:scope))"),
                    {"class": QUOTA_LOCK_CLASS, "scope": f"{scope.account_id}/{scope.environment}"})


def next_numbers(session: Session, count: int) -> list[int]:
    """`count` unused series numbers. PostgreSQL: from a sequence, so concurrent catalog replicas
    never wait on each other (numbers a rolled-back transaction took are skipped, harmlessly).
    SQLite: after the largest, which is safe because its write transactions take the one write
    lock at BEGIN (make_engine's `immediate`)."""
    if is_postgresql(session):
        return list(session.scalars(text("SELECT nextval('series_number_seq') FROM generate_series(1, :n)"),
                                    {"n": count}))
    largest = session.scalar(select(func.max(Series.number))) or 0
    return list(range(largest + 1, largest + 1 + count))


def number_of(series_id: str):
    """The number of a series as a scalar subquery, for queries of its points by id."""
    return select(Series.number).where(Series.id == series_id).scalar_subquery()


def lock_by_ids(session: Session, ids: Iterable[str]) -> dict[str, SeriesState]:
    """The series of these ids as plain rows, locked for the transaction (detect's progress)."""
    rows = run_prepared(session, _lock_statement, ids=ids).all()
    return {row[0]: SeriesState(*row) for row in rows}


@functools.cache
def _lock_statement(on_postgresql: bool):
    return (select(*_STATE_COLUMNS[:-1]).where(in_list(Series.id, "ids", on_postgresql))
            .order_by(Series.id).with_for_update(key_share=True))


def save_scored_until(session: Session, changed: Iterable[SeriesState]) -> None:
    _update(session, ("scored_until",), [(s.scored_until, s.id) for s in changed])


def save_progress(session: Session, changed: Iterable[SeriesState]) -> None:
    """Writes the advanced fields of the changed series back, one statement for all of them."""
    _update(session, _PROGRESS, [(s.first_ts, s.last_ts, s.last_value, s.point_count, s.step_seconds, s.id)
                                 for s in changed])


_PROGRESS = ("first_ts", "last_ts", "last_value", "point_count", "step_seconds")


def _update(session: Session, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """UPDATE series SET <columns> WHERE id (row = values..., id). PostgreSQL: one statement over
    the rows as arrays (unnest), a third faster than a thousand pipelined UPDATEs; SQLite: one
    driver-level executemany (no round trips there)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        assignments = ", ".join(f"{c} = ?" for c in columns)
        execute_many(session, f"UPDATE {Series.__tablename__} SET {assignments} WHERE id = ?", rows)
        return
    session.connection().exec_driver_sql(_unnest_update(columns, dialect),
                                         tuple(list(column) for column in zip(*rows, strict=True)))


@functools.cache
def _unnest_update(columns: tuple[str, ...], dialect) -> str:
    """PostgreSQL's UPDATE of `columns` by id from one array parameter per column."""
    table, names = Series.__tablename__, (*columns, "id")
    arrays = ", ".join(f"%s::{Series.__table__.c[n].type.compile(dialect=dialect)}[]" for n in names)
    assignments = ", ".join(f"{c} = v.{c}" for c in columns)
    return (f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v({', '.join(names)}) "
            f"WHERE {table}.id = v.id")


def tags_of(series: Series | SeriesState) -> dict[str, str]:
    return json.loads(series.tags_json or "{}")
