"""Database engine, sessions and schema migrations (Alembic, applied on start)."""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from sqlalchemy import Engine, String, any_, bindparam, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ColumnElement, Executable

from services.common.telemetry import tracing_enabled

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_POOL_SIZE = 32  # catalog serves with 32 threads (services/catalog/server.py)
WAL_SIZE_LIMIT = 32 * 1024 * 1024  # bytes of SQLite WAL file kept once checkpointed
log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def one_of(session: Session, column: ColumnElement, values: Iterable) -> ColumnElement:
    """`column IN values` as one bound parameter: an array on PostgreSQL (`= ANY`), a JSON list on
    SQLite (`IN json_each`). The statement's text is then the same whatever the number of values,
    so the driver and PostgreSQL reuse its parsing and plan; a plain IN renders a marker per value,
    which SQLAlchemy, the driver and the planner all redo per call (a fifth of catalog's write
    path with a thousand series per group)."""
    on_postgresql = is_postgresql(session)
    return _in_list(column, None, _list_value(on_postgresql, values), on_postgresql)


def in_list(column: ColumnElement, name: str, on_postgresql: bool) -> ColumnElement:
    """one_of with the list left to the named parameter `name`, for a statement built once and
    run by run_prepared (which binds the list passed under that name)."""
    return _in_list(column, name, None, on_postgresql)


def _list_value(on_postgresql: bool, values: Iterable) -> list | str:
    """The value an in_list parameter takes: the list itself on PostgreSQL, JSON text on SQLite."""
    return list(values) if on_postgresql else json.dumps(list(values))


def _in_list(column: ColumnElement, name: str | None, value, on_postgresql: bool) -> ColumnElement:
    if on_postgresql:
        return column == any_(bindparam(name, value, type_=postgresql.ARRAY(column.type)))
    listed = func.json_each(bindparam(name, value, type_=String)).table_valued("value")
    return column.in_(select(listed.c.value))


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def run_prepared(session: Session, build: Callable[[bool], Executable], params: dict | None = None,
                 **lists: Iterable):
    """Executes the statement `build(on_postgresql)` returns, with `params` and the in_list
    parameters named in `lists`, on the session's connection. `build` makes it once per dialect
    (functools.cache): SQLAlchemy keys the compiled form by a statement object's memoized cache key,
    and Core execution skips the ORM's per-statement setup; rebuilt per call, both cost more than
    the query on the write path's small look-ups (a third of catalog's CPU per single-point write)."""
    on_postgresql = is_postgresql(session)
    bound = {name: _list_value(on_postgresql, values) for name, values in lists.items()}
    return session.connection().execute(build(on_postgresql), {**(params or {}), **bound})


def execute_many(session: Session, statement: str, rows: list[tuple]) -> None:
    """`statement`, written with `?` markers, once per row in one driver-level executemany:
    SQLAlchemy's per-row parameter processing costs more than the statement on bulk writes."""
    connection = session.connection()
    if connection.dialect.paramstyle != "qmark":  # PostgreSQL's driver takes %s
        statement = statement.replace("?", "%s")
    connection.exec_driver_sql(statement, rows)


def insert_rows(session: Session, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """Appends rows to a table as fast as the database takes them: PostgreSQL's COPY (twice the
    rows per second of a pipelined executemany, at a tenth of the client CPU), else one
    executemany INSERT."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        marks = ", ".join("?" for _ in columns)
        execute_many(session, f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        return
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def make_engine(url: str, immediate: bool = False, checkpoints: bool = True,
                foreign_keys: bool = True) -> Engine:
    """An engine for `url`. SQLite gets WAL (its file cut back to WAL_SIZE_LIMIT when it restarts),
    a busy timeout and enforced foreign keys; with `immediate`, transactions take the write lock at
    BEGIN (SQLite has one writer, and a deferred transaction that later writes can fail instead of
    waiting); without `checkpoints`, its commits never copy the WAL into the database (someone else
    checkpoints); without `foreign_keys`, they are not enforced (migrations: rebuilding a parent
    table would cascade its DROP to the children)."""
    if not is_sqlite(url):
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # A connection per serving thread, kept: past QueuePool's default 5 (+10 overflow) every busy
    # moment opened and closed connections, each running the PRAGMAs below again.
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                           pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a process crash
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        if not checkpoints:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        # A reset WAL is cut back to this: else it keeps the size of its largest burst for good.
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


# Any fixed number: the PostgreSQL advisory lock that serialises migrations of replicas starting together.
MIGRATION_LOCK = 7_316_004_221


def alembic_config(url: str) -> Config:
    """Alembic's configuration for the catalog's migrations on `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Brings the schema to `revision` (the newest by default); safe to run on every start, and
    from several catalog replicas at once (PostgreSQL: they queue on an advisory lock)."""
    config = alembic_config(url)
    if is_sqlite(url):
        command.upgrade(config, revision)
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                connection.commit()
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
    finally:
        engine.dispose()


def _is_file_sqlite(url: str) -> bool:
    return is_sqlite(url) and make_url(url).database not in (None, "", ":memory:")


class Database:
    """The engine and a session factory; `transaction()` commits or rolls back as a unit.

    On a SQLite file, the commit that fills the WAL past 1000 pages would copy it into the
    database and sync it while holding the one write lock: every writer queued behind waits. A
    background thread checkpoints instead, every `checkpoint_seconds` (PASSIVE: it never blocks
    readers or the writer)."""

    def __init__(self, url: str, checkpoint_seconds: float = 1.0):
        self.url = url
        self.checkpoint_seconds = checkpoint_seconds
        background = _is_file_sqlite(url)
        self.engine = make_engine(url, immediate=True, checkpoints=not background)
        # SQLite readers use their own engine so reads never queue behind the write lock.
        self.read_engine = make_engine(url) if is_sqlite(url) else self.engine
        if tracing_enabled():  # SQL spans are leaves: untraced, the statements skip the hooks
            for engine in {self.engine, self.read_engine}:
                SQLAlchemyInstrumentor().instrument(engine=engine)
        self._writes = sessionmaker(self.engine, expire_on_commit=False)
        self._reads = sessionmaker(self.read_engine, expire_on_commit=False)
        # SQLite has one writer. Writers that race for it in BEGIN IMMEDIATE wait in SQLite's busy
        # handler, which sleeps 1..100 ms between attempts: queueing them here instead hands the
        # lock over at once.
        self._write_turn = threading.Lock() if is_sqlite(url) else nullcontext()
        self._stop = threading.Event()
        self._checkpointer = None
        if background:
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="wal-checkpoint",
                                                  daemon=True)
            self._checkpointer.start()

    def checkpoint_wal(self) -> tuple[int, int]:
        """Copies what it can of the WAL into the database file: (WAL frames, frames copied)."""
        with self.read_engine.connect() as connection:
            _busy, frames, copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        return frames, copied

    def _checkpoint_loop(self) -> None:
        while not self._stop.wait(self.checkpoint_seconds):
            try:
                self.checkpoint_wal()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("WAL checkpoint failed")

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._write_turn, self._writes.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reads.begin() as session:
            yield session

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._stop.set()
            self._checkpointer.join(timeout=10)
            self.checkpoint_wal()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

