"""A partial index of the series detect is behind on, for detect's periodic catch-up.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:30:00

A series is behind when its latest stored point is after its `scored_until`: ingest stored points
that never reached detect. Normally only the series of calls in flight are, for milliseconds, so
the index stays tiny and each shard's periodic check is one small read however many series exist.
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BEHIND = "(last_ts > scored_until OR (scored_until IS NULL AND last_ts IS NOT NULL))"


def upgrade() -> None:
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.create_index('ix_series_behind', ['id'], unique=False,
                              sqlite_where=sa.text(BEHIND), postgresql_where=sa.text(BEHIND))


def downgrade() -> None:
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_index('ix_series_behind')
