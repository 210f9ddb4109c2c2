"""What detect's periodic catch-up costs: the behind check itself, and the write cost of the partial
index it can read (ix_series_behind), each with the index and without it, in one run. The numbers
decide where the migration creates the index (SQLite only: see migration 0005).

    .venv/bin/python -m bench.catch_up [--postgres] [--series 1000] [--rounds 20] [--idle 200000]

Writes: rounds of WritePoints (one point for each of --series series) and the ApplyDetections that
scores them, through an in-process catalog server; blocks with and without the index alternate.
Check: the catch-up's read (`behind_series`, nothing behind) over --idle series. Prints medians in
milliseconds and the with/without ratios. SQLite always; with --postgres also a fresh PostgreSQL
database, dropped afterwards."""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import grpc
from sqlalchemy import text

from anomalywatch.catalog.v1 import storage_pb2, storage_pb2_grpc
from anomalywatch.common.v1 import common_pb2
from bench.scratch_db import DEFAULT_ADMIN_URL, scratch_database
from services.catalog import accounts, detector_state
from services.catalog.db import Database, migrate
from services.catalog.models import SERIES_BEHIND
from services.catalog.series import next_numbers
from services.catalog.server import build_spec
from services.common.config import load_settings
from services.common.grpc_server import create_server
from services.common.timeutil import to_timestamp

POSTGRES_ADMIN = DEFAULT_ADMIN_URL
BLOCKS = 6
T0 = 1_800_000_000.0


def set_index(db: Database, present: bool) -> None:
    with db.transaction() as session:
        session.execute(text("DROP INDEX IF EXISTS ix_series_behind"))
        if present:
            session.execute(text(f"CREATE INDEX ix_series_behind ON series (id) WHERE {SERIES_BEHIND}"))


def write_rounds(db: Database, series: int, rounds: int) -> dict[bool, list[float]]:
    server, port, _ = create_server(build_spec(load_settings({}), db), "127.0.0.1:0")
    server.start()
    with db.transaction() as session:
        account = accounts.create_account(session, "bench", "enterprise", {"enterprise"}, T0).id
    storage = storage_pb2_grpc.StorageServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    scope = common_pb2.Scope(account_id=account, environment=common_pb2.ENVIRONMENT_LIVE)
    clock = [T0]

    def one_round() -> float:
        clock[0] += 60
        at = to_timestamp(clock[0])
        started = time.perf_counter()
        answer = storage.WritePoints(storage_pb2.WritePointsRequest(
            scope=scope, series=[storage_pb2.SeriesKey(metric=f"m{i}") for i in range(series)],
            series_index=list(range(series)), times=[clock[0]] * series, values=[1.0] * series), timeout=120)
        detections = [storage_pb2.Detection(metric_id=s.metric_id, time=at, value=1.0)
                      for s in answer.series]
        storage.ApplyDetections(storage_pb2.ApplyDetectionsRequest(detections=detections), timeout=120)
        return time.perf_counter() - started

    for _ in range(5):
        one_round()
    seconds: dict[bool, list[float]] = {True: [], False: []}
    for block in range(BLOCKS):
        present = block % 2 == 0
        set_index(db, present)
        for _ in range(3):
            one_round()
        seconds[present] += [one_round() for _ in range(rounds)]
    server.stop(0)
    return seconds


def check_reads(db: Database, idle: int) -> dict[bool, list[float]]:
    """Adds `idle` series that are not behind, then times the catch-up's read."""
    with db.transaction() as session:
        account = accounts.create_account(session, "idle", "enterprise", {"enterprise"}, T0).id
        session.flush()  # the account row, before the raw inserts that refer to it
        session.execute(text(
            "INSERT INTO series (id, number, account_id, environment, name, series_key, tags_json, "
            "created_at, last_ts, scored_until, point_count, step_seconds) "
            "VALUES (:id, :number, :a, 'live', :n, :k, '{}', 0, 1, 1, 1, 0)"),
            [{"id": f"met_idle{i:012d}", "number": number, "a": account, "n": f"m{i}", "k": f"k{i:060d}"}
             for i, number in enumerate(next_numbers(session, idle))])
        if db.engine.dialect.name == "postgresql":
            session.execute(text("ANALYZE series"))
    seconds: dict[bool, list[float]] = {True: [], False: []}
    for block in range(BLOCKS):
        present = block % 2 == 0
        set_index(db, present)
        for _ in range(10):
            with db.read() as session:
                started = time.perf_counter()
                rows, _ = detector_state.behind_series(session, 0, 1, "", 1000)
                seconds[present].append(time.perf_counter() - started)
                assert rows == []
    return seconds


def report(name: str, what: str, seconds: dict[bool, list[float]]) -> None:
    with_ms, without_ms = (1000 * statistics.median(seconds[p]) for p in (True, False))
    print(f"{name:10s} {what:44s} with index {with_ms:9.2f} ms   without {without_ms:9.2f} ms   "
          f"ratio {with_ms / without_ms:5.2f}")


def run(name: str, url: str, args) -> None:
    migrate(url)
    db = Database(url)
    try:
        report(name, f"write round ({args.series} series, median of {BLOCKS // 2 * args.rounds})",
               write_rounds(db, args.series, args.rounds))
        report(name, f"behind check, nothing behind ({args.idle} series)", check_reads(db, args.idle))
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--idle", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{tmp}/catalog.db", args)
    if args.postgres:
        with scratch_database(POSTGRES_ADMIN, "aw_bench_catch_up") as url:
            run("postgresql", url, args)


if __name__ == "__main__":
    main()
