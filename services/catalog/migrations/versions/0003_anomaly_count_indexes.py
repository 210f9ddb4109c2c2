"""Anomaly indexes that also count: each list filter's index carries status (and the other small
columns), so a list's counts by status, the page and stats' windows read an index alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:30:00

A list answers counts by status for its filter beside the page. Before, status was only in the
status index: counting any other filter read the table row of every matching anomaly, and a type
filter made SQLite walk the status index over the whole account (4.6 s at 1M anomalies). Now each
index is (scope, [type | metric | series_id,] detected_at, id, then the small columns): the page is
its ordered prefix, and any mix of severity, type, metric, metric_id, tag and time window is
counted from one index. The (scope, detected_at) one also carries what stats sums (root cause,
acknowledge and resolve times). The (scope, detected_at) and (scope, status, detected_at) indexes of
0001 were prefixes of 0002's and go: one index fewer on every anomaly write than before.
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# name: columns; the page order first, then the columns the counts and stats read.
CREATED = {
    'ix_anomalies_scope_detected_counts':
        ['account_id', 'environment', 'detected_at', 'id', 'status', 'severity', 'type', 'root_cause',
         'acknowledged_at', 'resolved_at'],
    'ix_anomalies_scope_type_counts':
        ['account_id', 'environment', 'type', 'detected_at', 'id', 'status', 'severity'],
    'ix_anomalies_scope_metric_counts':
        ['account_id', 'environment', 'metric', 'detected_at', 'id', 'status', 'severity', 'type'],
    'ix_anomalies_scope_series_counts':
        ['account_id', 'environment', 'series_id', 'detected_at', 'id', 'status', 'severity', 'type'],
}
# name: columns, as 0001 and 0002 created them (for the downgrade).
DROPPED = {
    'ix_anomalies_scope_detected': ['account_id', 'environment', 'detected_at'],
    'ix_anomalies_scope_status_detected': ['account_id', 'environment', 'status', 'detected_at'],
    'ix_anomalies_scope_detected_id': ['account_id', 'environment', 'detected_at', 'id'],
    'ix_anomalies_scope_metric_detected': ['account_id', 'environment', 'metric', 'detected_at'],
    'ix_anomalies_scope_type_detected': ['account_id', 'environment', 'type', 'detected_at'],
}


def upgrade() -> None:
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        for name in DROPPED:
            batch_op.drop_index(name)
        for name, columns in CREATED.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        for name in CREATED:
            batch_op.drop_index(name)
        for name, columns in DROPPED.items():
            batch_op.create_index(name, columns, unique=False)
