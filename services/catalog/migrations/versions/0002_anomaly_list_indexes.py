"""Indexes for anomaly lists: id in the page indexes (deferred join, no tie-break sort), metric, type.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:00:00

The list pages by (scope, [status,] detected_at DESC, id DESC). With `id` in the index the page's
ids come from the index alone (SQLite and PostgreSQL skip OFFSET rows without reading them) and no
sort is needed to break detected_at ties. The metric and type filters get (scope, metric|type,
detected_at) indexes instead of scanning every anomaly of the account; the type one also answers
the summary's counts by type from the index alone.
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.create_index('ix_anomalies_scope_detected_id',
                              ['account_id', 'environment', 'detected_at', 'id'], unique=False)
        batch_op.create_index('ix_anomalies_scope_status_detected_id',
                              ['account_id', 'environment', 'status', 'detected_at', 'id'], unique=False)
        batch_op.create_index('ix_anomalies_scope_metric_detected',
                              ['account_id', 'environment', 'metric', 'detected_at'], unique=False)
        batch_op.create_index('ix_anomalies_scope_type_detected',
                              ['account_id', 'environment', 'type', 'detected_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.drop_index('ix_anomalies_scope_type_detected')
        batch_op.drop_index('ix_anomalies_scope_metric_detected')
        batch_op.drop_index('ix_anomalies_scope_status_detected_id')
        batch_op.drop_index('ix_anomalies_scope_detected_id')
