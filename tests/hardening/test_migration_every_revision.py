"""A database at any earlier revision, holding data, upgrades to head keeping every row (and the
counts migration 0004 derives from them); upgrading again changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from services.catalog.db import migrate

EARLIER = ["0001", "0002", "0003", "0004", "0005", "0006"]

ROWS = {
    "accounts": [{"id": "acct_1", "name": "a", "plan": "pro", "created_at": 1.0}],
    "api_keys": [{"id": "key_1", "account_id": "acct_1", "name": "k", "prefix": "aw_live_ab",
                  "key_hash": "h" * 64, "scopes": "read,ingest", "environment": "live", "created_at": 1.0,
                  "expires_at": None, "revoked_at": None, "last_used_at": 2.0}],
    "series": [{"id": f"met_{i}", "account_id": "acct_1", "environment": "live", "name": f"cpu{i}",
                "series_key": f"{i:064d}", "tags_json": '{"host":"h"}', "created_at": 1.0, "first_ts": 10.0,
                "last_ts": 12.5, "last_value": 3.0, "point_count": 3, "step_seconds": 1.25,
                "scored_until": 11.0 if i else None} for i in range(3)],
    "series_tags": [{"series_id": f"met_{i}", "key": "host", "value": "h"} for i in range(3)],
    "points": [{"series_id": f"met_{i}", "ts": ts, "value": i * 100 + ts} for i in range(3)
               for ts in (10.0, 11.0, 12.5)],
    "anomalies": [{"id": f"anom_{i}", "account_id": "acct_1", "environment": "live", "series_id": "met_0",
                   "metric": "cpu0", "source": "stat", "type": ("spike", "drop", "spike")[i],
                   "severity": ("warning", "critical", "warning")[i],
                   "status": ("active", "acknowledged", "resolved")[i], "score": 0.5, "current_value": 9.0,
                   "peak_value": 9.5, "baseline_value": 1.0, "expected_lower": 0.0, "expected_upper": 2.0,
                   "deviation_percent": 800.0, "description": "d", "detected_at": 11.0 + i,
                   "started_at": 10.0 + i, "last_seen_at": 10.0 + i, "ended_at": None, "point_count": 1,
                   "rule_id": None, "acknowledged_at": None, "acknowledged_by": None, "resolved_at": None,
                   "resolved_by": None, "note": None, "root_cause": None} for i in range(3)],
    "anomaly_events": [{"id": 1, "anomaly_id": "anom_1", "action": "acknowledge", "at": 20.0, "by": "key_1",
                        "note": "looking"}],
    "rules": [{"id": "rule_1", "account_id": "acct_1", "environment": "live", "name": "hot",
               "description": "", "metric": "cpu*", "operator": "gt", "threshold": 90.0,
               "severity": "critical", "scope_tags_json": "{}", "enabled": True, "created_at": 1.0,
               "updated_at": 1.0}],
    "anomaly_configs": [{"account_id": "acct_1", "environment": "live", "target_kind": "name",
                         "target": "cpu0", "enabled": None, "spike_threshold": 3.5, "drop_threshold": None,
                         "min_data_points": 50, "comparison_window": None, "sensitivity": "high",
                         "seasonality": None, "updated_at": 1.0}],
    "checkpoints": [{"series_id": "met_0", "state": b"\x00\x01state", "state_ts": 12.5, "saved_at": 13.0}],
    "test_posts": [{"account_id": "acct_1", "environment": "live", "metric": "try.me", "count": 2,
                    "last_post_at": 5.0}],
}


def _contents(connection) -> dict[str, set[tuple]]:
    """Every table's rows, as sets of the columns written (points through the `points` view, which
    the previous releases' table became)."""
    out = {}
    for table, rows in ROWS.items():
        columns = list(rows[0])
        out[table] = {tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                      for row in connection.execute(text(f"SELECT {', '.join(columns)} FROM {table}"))}
    return out


def _counts(connection) -> set[tuple]:
    return {tuple(row) for row in connection.execute(text(
        "SELECT account_id, environment, status, severity, type, sum(n) FROM anomaly_counts "
        "GROUP BY account_id, environment, status, severity, type HAVING sum(n) <> 0"))}


@pytest.mark.parametrize("revision", EARLIER)
def test_a_database_with_data_at_an_earlier_revision_upgrades_to_head_losing_nothing(blank_url, revision):
    migrate(blank_url, revision)
    engine = create_engine(blank_url)
    try:
        with engine.begin() as connection:
            for table, rows in ROWS.items():
                connection.execute(text(f"INSERT INTO {table} ({', '.join(rows[0])}) "
                                        f"VALUES ({', '.join(':' + c for c in rows[0])})"), rows)
            written = _contents(connection)
        assert {table: len(rows) for table, rows in written.items()} == {t: len(r) for t, r in ROWS.items()}
        migrate(blank_url)
        with engine.connect() as connection:
            assert _contents(connection) == written
            assert _counts(connection) == {("acct_1", "live", "active", "warning", "spike", 1),
                                           ("acct_1", "live", "acknowledged", "critical", "drop", 1),
                                           ("acct_1", "live", "resolved", "warning", "spike", 1)}
            numbers = connection.execute(text("SELECT number FROM series")).scalars().all()
            assert None not in numbers and len(set(numbers)) == 3
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0007"
        migrate(blank_url)  # again, as every start does: nothing changes
        with engine.connect() as connection:
            assert _contents(connection) == written
            assert connection.execute(text("SELECT count(*) FROM anomaly_counts")).scalar() == 3
    finally:
        engine.dispose()
