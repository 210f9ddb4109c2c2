"""Anomaly counts by scope, status, severity and type, kept by triggers on anomalies.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:45:00

An unfiltered list (and one filtered by status, severity or type only) answers counts by status for
the whole scope: with a million anomalies, even reading them from an index costs hundreds of
milliseconds. These counts are kept in step by the database itself, in the transaction that
inserts, changes or deletes the anomaly, so no code path can forget them.

PostgreSQL: each change adds its +1/-1 to a row of its own backend (`slot` = pg_backend_pid()), so
concurrent writers never wait for each other on a shared counter row (nor deadlock); a count is the
sum over the slots. SQLite has one writer at a time and keeps slot 0. The table is filled from the
existing anomalies after the triggers exist: on PostgreSQL, creating them waits for running writers
and holds back new ones until the migration commits, so no anomaly is missed or counted twice.
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

KEY = "account_id, environment, status, severity, type, slot"
CHANGED = ("OLD.account_id IS DISTINCT FROM NEW.account_id OR OLD.environment IS DISTINCT FROM "
           "NEW.environment OR OLD.status IS DISTINCT FROM NEW.status OR OLD.severity IS DISTINCT FROM "
           "NEW.severity OR OLD.type IS DISTINCT FROM NEW.type")


def _add(row: str, delta: int, slot: str) -> str:
    """An upsert adding `delta` to the count of the anomaly `row` (NEW or OLD)."""
    return (f"INSERT INTO anomaly_counts ({KEY}, n) VALUES ({row}.account_id, {row}.environment, "
            f"{row}.status, {row}.severity, {row}.type, {slot}, {delta}) "
            f"ON CONFLICT ({KEY}) DO UPDATE SET n = anomaly_counts.n + excluded.n;")


POSTGRES_FUNCTION = f"""
CREATE FUNCTION anomaly_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {_add('OLD', -1, 'pg_backend_pid()')}
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {_add('NEW', 1, 'pg_backend_pid()')}
    END IF;
    RETURN NULL;
END
$$"""

POSTGRES_TRIGGERS = [
    "CREATE TRIGGER anomaly_counts_insert_delete AFTER INSERT OR DELETE ON anomalies "
    "FOR EACH ROW EXECUTE FUNCTION anomaly_counts_apply()",
    "CREATE TRIGGER anomaly_counts_update AFTER UPDATE OF account_id, environment, status, severity, type "
    f"ON anomalies FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION anomaly_counts_apply()",
]

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER anomaly_counts_insert AFTER INSERT ON anomalies BEGIN {_add('NEW', 1, '0')} END",
    f"CREATE TRIGGER anomaly_counts_delete AFTER DELETE ON anomalies BEGIN {_add('OLD', -1, '0')} END",
    "CREATE TRIGGER anomaly_counts_update AFTER UPDATE OF account_id, environment, status, severity, type "
    f"ON anomalies WHEN {CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} "
    f"BEGIN {_add('OLD', -1, '0')} {_add('NEW', 1, '0')} END",
]

BACKFILL = (f"INSERT INTO anomaly_counts ({KEY}, n) SELECT account_id, environment, status, severity, type, "
            "0, count(*) FROM anomalies GROUP BY account_id, environment, status, severity, type")


def upgrade() -> None:
    op.create_table(
        'anomaly_counts',
        sa.Column('account_id', sa.String(length=32), nullable=False),
        sa.Column('environment', sa.String(length=8), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('type', sa.String(length=16), nullable=False),
        sa.Column('slot', sa.Integer(), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'environment', 'status', 'severity', 'type', 'slot'),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for statement in POSTGRES_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    op.execute(BACKFILL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER anomaly_counts_update ON anomalies")
        op.execute("DROP TRIGGER anomaly_counts_insert_delete ON anomalies")
        op.execute("DROP FUNCTION anomaly_counts_apply()")
    else:
        for name in ("anomaly_counts_update", "anomaly_counts_delete", "anomaly_counts_insert"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table('anomaly_counts')
