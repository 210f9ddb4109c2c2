"""anomaly_counts (kept by triggers, migration 0004) equals the anomalies it counts after inserts,
lifecycle changes, escalations and deletes, on SQLite and PostgreSQL; folding PostgreSQL's backend
slots keeps every count and never waits for a writer."""
from __future__ import annotations

import random

from sqlalchemy import create_engine, delete, func, select, text, update

from services.catalog import anomalies, anomaly_counts
from services.catalog.anomalies import AnomalyFilters
from services.catalog.models import Anomaly, AnomalyCount

from .conftest import T0

KEY = (Anomaly.account_id, Anomaly.environment, Anomaly.status, Anomaly.severity, Anomaly.type)
KEPT_KEY = (AnomalyCount.account_id, AnomalyCount.environment, AnomalyCount.status, AnomalyCount.severity,
            AnomalyCount.type)


def live_and_kept(db, account_id: str) -> tuple[dict, dict]:
    """The account's anomalies counted by key, and the sums anomaly_counts keeps for it."""
    with db.read() as session:
        live = {tuple(r[:5]): int(r[5]) for r in session.execute(
            select(*KEY, func.count()).where(Anomaly.account_id == account_id).group_by(*KEY))}
        kept = {tuple(r[:5]): int(r[5]) for r in session.execute(
            select(*KEPT_KEY, func.sum(AnomalyCount.n)).where(AnomalyCount.account_id == account_id)
            .group_by(*KEPT_KEY)) if r[5]}
    return live, kept


def test_counts_follow_inserts_changes_and_deletes(db, seed):
    rng = random.Random(5)
    live_scope = seed.scope()
    scopes = [live_scope, seed.scope("test", live_scope.account_id)]
    series = {scope: seed.series(scope) for scope in scopes}
    ids = []
    for i in range(40):
        scope = rng.choice(scopes)
        ids.append(seed.anomaly(scope, series[scope], detected_at=T0 + i, started_at=T0 + i,
                                type=rng.choice(["spike", "drop", "trend"]),
                                severity=rng.choice(["info", "critical"])))
    first_live = ids[0]
    with db.transaction() as session:
        scope = live_scope if session.get(Anomaly, first_live).environment == "live" else scopes[1]
        anomalies.resolve(session, scope, first_live, "key_1", None, "bug", T0 + 100)
        for anomaly_id in ids[1:15]:  # lifecycle changes and escalations through the ORM
            row = session.get(Anomaly, anomaly_id)
            row.status, row.severity = rng.choice(["acknowledged", "resolved"]), "warning"
        session.execute(update(Anomaly).where(Anomaly.id.in_(ids[15:20])).values(last_seen_at=T0 + 500))
        session.execute(delete(Anomaly).where(Anomaly.id.in_(ids[20:25])))
    live, kept = live_and_kept(db, live_scope.account_id)
    assert live == kept and sum(live.values()) == 35


def test_kept_counts_answer_the_list_meta_and_the_summary(db, seed):
    scope = seed.scope()
    series = seed.series(scope)
    for i, (status, kind) in enumerate([("active", "spike"), ("active", "drop"), ("resolved", "drop"),
                                        ("acknowledged", "spike")]):
        seed.anomaly(scope, series, detected_at=T0 + i, started_at=T0 + i, status=status, type=kind)
    with db.read() as session:
        _, total, counts = anomalies.list_anomalies(session, scope, AnomalyFilters(type="drop"), 0, 50)
        summary = anomalies.summary(session, scope)
    assert (total, counts) == (2, {"active": 1, "acknowledged": 0, "resolved": 1})
    assert summary.by_type == {"spike": 2, "drop": 2} and summary.total == 4


def test_folding_postgres_slots_keeps_counts_and_skips_a_running_writer(db, seed):
    if db.engine.dialect.name != "postgresql":
        assert anomaly_counts.fold_slots(db) == 0  # SQLite keeps slot 0 only
        return
    scope = seed.scope()
    series = seed.series(scope)
    for i in range(3):
        seed.anomaly(scope, series, detected_at=T0 + i, started_at=T0 + i)
    before = live_and_kept(db, scope.account_id)[1]
    other_backend = create_engine(db.url)
    with other_backend.connect() as writer:  # a writer in the middle of its transaction
        writer.execute(update(Anomaly).where(Anomaly.started_at == T0).values(status="resolved"))
        folded = anomaly_counts.fold_slots(db)
        writer.commit()
    other_backend.dispose()
    live, kept = live_and_kept(db, scope.account_id)
    assert folded >= 1 and live == kept and sum(kept.values()) == sum(before.values()) == 3
    anomaly_counts.fold_slots(db)
    with db.read() as session:
        slots = set(session.scalars(text("SELECT DISTINCT slot FROM anomaly_counts")))
    assert slots == {0}
