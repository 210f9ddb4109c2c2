"""Catalog's write path in process: CPU per WritePoints transaction by the number of series in it.

    .venv/bin/python -m bench.write_path [--calls 400] [--repeats 5] [--postgres [ADMIN_URL]]

One account; each call writes one new point to each of N existing series (the shape of a group of
single-point requests, or of a batch), in one transaction through `points.write_points`: series
look-up and lock, chronological check, the append, the series update, rules and configurations.
No gRPC. The process's CPU time per call (a measure that holds on a busy machine), median of
--repeats rounds of --calls calls, on a SQLite file and with --postgres on a scratch database.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from bench.scratch_db import DEFAULT_ADMIN_URL, scratch_database
from services.catalog import accounts, points
from services.catalog.configs import Scope
from services.catalog.db import Database, migrate

SERIES_PER_CALL = (1, 4, 64, 500)


def measure(url: str, calls: int, repeats: int) -> dict[int, float]:
    """Median CPU milliseconds per write_points call, by series per call."""
    migrate(url)
    db = Database(url)
    try:
        with db.transaction() as session:
            account = accounts.create_account(session, "bench", "free", {"free"}, time.time())
        scope = Scope(account.id, "live")
        t0 = time.time() - 86400.0
        result = {}
        for n in SERIES_PER_CALL:
            series = [(f"bench.write.{n}.s{i}", {"host": f"h{i}", "dc": "eu"}) for i in range(n)]
            k = 0
            for _ in range(max(20, calls // 10)):  # creates the series, warms the caches
                _write(db, scope, series, t0 + k)
                k += 1
            rounds = []
            for _ in range(repeats):
                started = time.process_time()
                for _ in range(calls):
                    _write(db, scope, series, t0 + k)
                    k += 1
                rounds.append((time.process_time() - started) / calls * 1e3)
            result[n] = statistics.median(rounds)
        return result
    finally:
        db.dispose()


def _write(db: Database, scope: Scope, series: list, ts: float) -> None:
    """One transaction: a point at `ts` for each series."""
    n = len(series)
    batch = points.PointsIn(series, list(range(n)), [ts] * n, [1.0 + ts % 7] * n)
    with db.transaction() as session:
        points.write_points(session, scope, batch, None, time.time())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--postgres", nargs="?", const=DEFAULT_ADMIN_URL, default=None, metavar="ADMIN_URL")
    a = ap.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="aw-bench-write-") as tmp:
        runs.append(("SQLite", measure(f"sqlite:///{tmp}/catalog.db", a.calls, a.repeats)))
    if a.postgres:
        with scratch_database(a.postgres, "aw_bench_write") as url:
            runs.append(("PostgreSQL", measure(url, a.calls, a.repeats)))
    print(f"catalog write_points, CPU ms per transaction (median of {a.repeats} x {a.calls} calls), "
          "one new point per series")
    print(f"{'database':<12}" + "".join(f"{f'{n} series':>12}" for n in SERIES_PER_CALL)
          + f"{'us/point @500':>15}")
    for name, result in runs:
        print(f"{name:<12}" + "".join(f"{result[n]:>12.3f}" for n in SERIES_PER_CALL)
              + f"{1e3 * result[500] / 500:>15.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
