"""Anomaly list/count/stats latency on a large catalog.

    .venv/bin/python -m bench.anomaly_list --count 1000000 [--postgres] [--explain]
        [--sqlite-path var/bench/anomalies-1m.db] [--postgres-db aw_bench_1m]

Fills a fresh database (SQLite in a temporary directory; with --postgres also a fresh PostgreSQL
database, dropped afterwards) with N anomalies over many series of two accounts (80% / 20%), then
prints the median latency of the catalog's own domain calls in milliseconds. With --sqlite-path or
--postgres-db the database is kept and a later run reuses it (filling takes minutes at 1M); each run
migrates it first, so a reused database gets new migrations' indexes."""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import bindparam, delete, insert, text, update

from bench.scratch_db import create_database, drop_database
from services.catalog import anomalies
from services.catalog.anomalies import AnomalyFilters
from services.catalog.configs import Scope
from services.catalog.db import Database, migrate
from services.catalog.models import Account, Anomaly, Series, SeriesTag

T0 = 1_800_000_000.0
SPAN = 90 * 86400.0
LAST_WEEK = T0 + SPAN - 7 * 86400
METRICS = [f"{kind}.{what}" for kind in ("api", "db", "queue", "cache", "web") for what in
           ("requests", "latency_p99", "errors", "cpu", "memory", "connections", "depth", "hits")]
STATUSES = (("resolved", 0.7), ("acknowledged", 0.2), ("active", 0.1))
SEVERITIES = (("info", 0.5), ("warning", 0.35), ("critical", 0.15))
TYPES = (("spike", 0.4), ("drop", 0.3), ("level_shift", 0.1), ("trend", 0.08), ("threshold", 0.1),
         ("missing_data", 0.02))
CHUNK = 20_000
# The write measurement: new anomalies, in transactions of WRITE_BATCH like a batch of episodes.
WRITES = 2_000
WRITE_BATCH = 50


def pick(rng: random.Random, table) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def account_id(a: int) -> str:
    return f"acct_bench{a:011d}"


def series_id(a: int, i: int) -> str:
    return f"met_{a}{i:015d}"


def filled_scopes(series_per_account: int) -> list[tuple[Scope, list[str]]]:
    """The scopes and series ids `fill` creates (they do not depend on the random draws)."""
    return [(Scope(account_id(a), "live"), [series_id(a, i) for i in range(series_per_account)])
            for a in range(2)]


def fill(db: Database, count: int, series_per_account: int, seed: int = 7) -> list[tuple[Scope, list[str]]]:
    """Two accounts with their series and tags; `count` anomalies split 80/20 between them."""
    rng = random.Random(seed)
    scopes: list[tuple[Scope, list[str]]] = []
    with db.transaction() as session:
        for a in range(2):
            account = account_id(a)
            session.add(Account(id=account, name=f"bench{a}", plan="enterprise", created_at=T0))
            session.flush()
            series_rows, tag_rows, ids = [], [], []
            for i in range(series_per_account):
                sid = series_id(a, i)
                tags = {"host": f"h{i % 200}", "region": ("eu", "us", "ap")[i % 3]}
                series_rows.append({"id": sid, "account_id": account, "environment": "live",
                                    "name": METRICS[i % len(METRICS)], "series_key": uuid.uuid4().hex,
                                    "tags_json": json.dumps(tags), "created_at": T0, "point_count": 0,
                                    "step_seconds": 60.0})
                tag_rows += [{"series_id": sid, "key": k, "value": v} for k, v in tags.items()]
                ids.append(sid)
            session.execute(insert(Series), series_rows)
            session.execute(insert(SeriesTag), tag_rows)
            scopes.append((Scope(account, "live"), ids))
    metric_of = {sid: METRICS[i % len(METRICS)] for _, ids in scopes for i, sid in enumerate(ids)}
    done = 0
    while done < count:
        rows = [anomaly_row(rng, n, scopes, metric_of) for n in range(done, min(done + CHUNK, count))]
        with db.transaction() as session:
            session.execute(insert(Anomaly), rows)
        done += len(rows)
    return scopes


def anomaly_row(rng: random.Random, n: int, scopes: list[tuple[Scope, list[str]]],
                metric_of: dict[str, str], prefix: str = "anom_") -> dict:
    """The n-th bench anomaly: 80% in the first scope, statuses, severities and types as drawn."""
    scope, ids = scopes[0] if rng.random() < 0.8 else scopes[1]
    sid = rng.choice(ids)
    detected = T0 + rng.random() * SPAN
    status = pick(rng, STATUSES)
    acked = None
    if status != "active" and rng.random() < 0.8:
        acked = detected + rng.expovariate(1 / 1800)
    resolved = None
    if status == "resolved":
        resolved = (acked or detected) + rng.expovariate(1 / 7200)
    return {
        "id": f"{prefix}{n:016d}", "account_id": scope.account_id, "environment": "live",
        "series_id": sid,
        "metric": metric_of[sid], "source": "stat", "type": pick(rng, TYPES),
        "severity": pick(rng, SEVERITIES), "status": status, "score": rng.random(),
        "current_value": 100.0, "peak_value": 120.0, "baseline_value": 50.0, "expected_lower": 40.0,
        "expected_upper": 60.0, "deviation_percent": 100.0, "description": "bench",
        "detected_at": detected, "started_at": detected - 1.0 + n * 1e-6, "last_seen_at": detected,
        "ended_at": detected + 300.0, "point_count": 3,
        "acknowledged_at": acked, "acknowledged_by": "key_bench" if acked else None,
        "resolved_at": resolved, "resolved_by": "key_bench" if resolved else None,
        "root_cause": rng.choice(anomalies.ROOT_CAUSES) if resolved else None, "note": None,
        "rule_id": None}


def measure_writes(db: Database, scopes: list[tuple[Scope, list[str]]]) -> tuple[float, float]:
    """Microseconds per anomaly to insert WRITES new active ones (the newest) in transactions of
    WRITE_BATCH, and then to change each one's severity and its status (an escalation, an
    acknowledge). They are deleted afterwards, so a kept database stays reusable."""
    rng = random.Random(11)
    metric_of = {sid: METRICS[i % len(METRICS)] for _, ids in scopes for i, sid in enumerate(ids)}
    rows = []
    for n in range(WRITES):
        row = anomaly_row(rng, n, scopes, metric_of, prefix="anom_w")
        row.update(status="active", detected_at=T0 + SPAN + n, acknowledged_at=None, acknowledged_by=None,
                   resolved_at=None, resolved_by=None, root_cause=None, ended_at=None)
        rows.append(row)
    batches = [rows[i:i + WRITE_BATCH] for i in range(0, WRITES, WRITE_BATCH)]
    started = time.perf_counter()
    for batch in batches:
        with db.transaction() as session:
            session.execute(insert(Anomaly), batch)
    inserted = time.perf_counter() - started
    table = Anomaly.__table__
    change = (update(table).where(table.c.id == bindparam("b_id"))
              .values(severity=bindparam("b_severity"), status=bindparam("b_status")))
    started = time.perf_counter()
    for batch in batches:
        with db.transaction() as session:
            session.connection().execute(change, [
                {"b_id": r["id"], "b_severity": "critical", "b_status": "acknowledged"} for r in batch])
    changed = time.perf_counter() - started
    with db.transaction() as session:
        session.execute(delete(Anomaly).where(Anomaly.id.in_([r["id"] for r in rows])))
    return inserted / WRITES * 1e6, changed / WRITES * 1e6


def median_ms(call: Callable[[], object], repeat: int) -> float:
    call()  # warm the caches and the statement cache
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def scenarios(count: int) -> dict[str, tuple[AnomalyFilters, int]]:
    deep = max(0, min(100_000, int(count * 0.8) - 50))
    return {
        "first page (no filter)": (AnomalyFilters(), 0),
        "first page status=active": (AnomalyFilters(status="active"), 0),
        "filtered severity+type+metric": (AnomalyFilters(severity="critical", type="spike",
                                                         metric="api.latency_p99"), 0),
        "filtered tag host=h7": (AnomalyFilters(tags={"host": "h7"}), 0),
        "filtered last 24h": (AnomalyFilters(start=T0 + SPAN - 86400, end=T0 + SPAN), 0),
        "filtered type=trend": (AnomalyFilters(type="trend"), 0),
        "filtered severity=critical": (AnomalyFilters(severity="critical"), 0),
        "filtered metric=api.requests": (AnomalyFilters(metric="api.requests"), 0),
        "filtered metric_id": (AnomalyFilters(metric_id=series_id(0, 7)), 0),
        "filtered status=active+type=spike": (AnomalyFilters(status="active", type="spike"), 0),
        "filtered last 30 days": (AnomalyFilters(start=T0 + SPAN - 30 * 86400), 0),
        f"deep offset {deep}": (AnomalyFilters(), deep),
    }


def fill_or_reuse(db: Database, count: int, series: int) -> list[tuple[Scope, list[str]]]:
    """Fills an empty database; reuses one this bench filled with the same --count and --series."""
    with db.read() as session:
        anomaly_rows = session.execute(text("SELECT count(*) FROM anomalies")).scalar_one()
        series_rows = session.execute(text("SELECT count(*) FROM series")).scalar_one()
    if anomaly_rows == 0:
        started = time.perf_counter()
        scopes = fill(db, count, series)
        print(f"  filled {count} anomalies over {2 * series} series in {time.perf_counter() - started:.1f} s")
        return scopes
    if (anomaly_rows, series_rows) != (count, 2 * series):
        raise SystemExit(f"the kept database holds {anomaly_rows} anomalies over {series_rows} series, "
                         f"not {count} over {2 * series}: pass the same --count/--series or another path")
    print(f"  reusing {count} anomalies over {2 * series} series")
    return filled_scopes(series)


def run(url: str, count: int, series: int, repeat: int, explain: bool) -> None:
    started = time.perf_counter()
    migrate(url)
    print(f"  migrated in {time.perf_counter() - started:.1f} s")
    db = Database(url)
    scopes = fill_or_reuse(db, count, series)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with db.engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    scope = scopes[0][0]
    with db.read() as session:
        for name, (filters, offset) in scenarios(count).items():
            ms = median_ms(lambda f=filters, o=offset: anomalies.list_anomalies(session, scope, f, o, 50),
                           repeat)
            rows, total, _ = anomalies.list_anomalies(session, scope, filters, offset, 50)
            page_ms = median_ms(lambda f=filters, o=offset: page_only(session, scope, f, o), repeat)
            print(f"  {name:<34} list {ms:8.2f} ms   plain OFFSET {page_ms:8.2f} ms   (total {total})")
            if explain:
                print_plan(session, scope, filters, offset, total)
        for name, call in (("counts by status (no filter)", lambda: counts_only(session, scope)),
                           ("stats all time", lambda: anomalies.stats(session, scope, None, None)),
                           ("stats last 7 days", lambda: anomalies.stats(session, scope, LAST_WEEK, None)),
                           ("summary", lambda: anomalies.summary(session, scope))):
            print(f"  {name:<34} {median_ms(call, repeat):8.2f} ms")
        one = scopes[0][1][0]
        first_id = page_only(session, scope, AnomalyFilters(metric_id=one), 0)[0].id
        get_ms = median_ms(lambda: anomalies.get_anomaly(session, scope, first_id), repeat)
        print(f"  {'get_anomaly':<34} {get_ms:8.2f} ms")
    insert_us, change_us = measure_writes(db, scopes)
    print(f"  {'anomaly writes':<34} insert {insert_us:7.1f} us   severity+status update {change_us:7.1f} us"
          f"   (per anomaly, {WRITE_BATCH} per transaction)")
    db.dispose()


def page_only(session, scope: Scope, filters: AnomalyFilters, offset: int):
    return session.scalars(anomalies.page_query(anomalies.FilterShape.of(filters)).offset(offset).limit(50),
                           anomalies.filter_params(scope, filters)).all()


def counts_only(session, scope: Scope):
    return anomalies.status_counts(session, scope, AnomalyFilters())


def print_plan(session, scope: Scope, filters: AnomalyFilters, offset: int, total: int) -> None:
    """The plans of the list's queries: counts by status, then the page's ids."""
    shape = anomalies.FilterShape.of(filters)
    params = {**anomalies.filter_params(scope, filters), "offset": offset, "limit": 50}
    for title, query in (("counts", anomalies.status_counts_query(shape)),
                         ("page ids", anomalies.page_ids_query(shape, anomalies.sorts_all(shape, total)))):
        compiled = query.params(params).compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if session.get_bind().dialect.name == "sqlite" else "EXPLAIN "
        print(f"    {title}:")
        for row in session.execute(text(prefix + str(compiled))):
            print("      " + " | ".join(str(c) for c in row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--series", type=int, default=5_000, help="series per account")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--postgres", action="store_true", help="also on a fresh PostgreSQL database")
    parser.add_argument("--postgres-server", default="postgresql+psycopg://postgres@127.0.0.1:5432/")
    parser.add_argument("--explain", action="store_true", help="print the queries' plans")
    parser.add_argument("--sqlite-path", help="keep the SQLite database in this file and reuse it")
    parser.add_argument("--postgres-db", help="keep the PostgreSQL database of this name and reuse it "
                                              "(implies --postgres)")
    parser.add_argument("--skip-sqlite", action="store_true", help="only PostgreSQL")
    args = parser.parse_args()
    if not args.skip_sqlite:
        print(f"SQLite, {args.count} anomalies")
        if args.sqlite_path:
            Path(args.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            run(f"sqlite:///{args.sqlite_path}", args.count, args.series, args.repeat, args.explain)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                run(f"sqlite:///{tmp}/bench.db", args.count, args.series, args.repeat, args.explain)
    if args.postgres or args.postgres_db:
        run_postgres(args)


def run_postgres(args: argparse.Namespace) -> None:
    """On a fresh database dropped afterwards, or on the kept --postgres-db (created when missing)."""
    admin_url = args.postgres_server + "postgres"
    try:
        url = create_database(admin_url, "aw_bench", args.postgres_db)
    except Exception as error:  # noqa: BLE001 - report and stop
        print(f"PostgreSQL not reachable at {args.postgres_server}: {error}")
        return
    try:
        print(f"PostgreSQL, {args.count} anomalies")
        run(url, args.count, args.series, args.repeat, args.explain)
    finally:
        if not args.postgres_db:
            drop_database(admin_url, url)


if __name__ == "__main__":
    main()
