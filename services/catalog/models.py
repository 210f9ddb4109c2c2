"""The catalog's tables (SQLAlchemy 2). Times are unix seconds (double precision): one portable,
index-friendly representation on SQLite and PostgreSQL; the API layer renders ISO 8601."""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# A series whose latest stored point is after its `scored_until`; the predicate of
# ix_series_behind, which a query must repeat as written for SQLite to use the index.
SERIES_BEHIND = "(last_ts > scored_until OR (scored_until IS NULL AND last_ts IS NOT NULL))"


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    plan: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))  # comma-separated
    environment: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Series(Base):
    """A metric name plus tags within one account and environment."""
    __tablename__ = "series"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    environment: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(255))
    # sha256 of the canonical name+tags: a fixed-size unique key however long the tags are.
    series_key: Mapped[str] = mapped_column(String(64))
    tags_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[float] = mapped_column(Float)
    first_ts: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_ts: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    point_count: Mapped[int] = mapped_column(Integer, default=0)
    # Exponentially smoothed interval between points, seconds (0 until two points).
    step_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Timestamp of the latest point whose detections were applied (detect's progress).
    scored_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The series' key in the points table: 8 bytes instead of the 32-character id per point.
    # Always set (series.next_numbers); nullable in SQLite's schema only because SQLite cannot add
    # a NOT NULL column to a table that has rows.
    number: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        UniqueConstraint("account_id", "environment", "series_key", name="uq_series_key"),
        Index("uq_series_number", "number", unique=True),
        Index("ix_series_scope_name", "account_id", "environment", "name"),
        # Holds only the series with stored points detect has not scored (few, and briefly), so
        # detect's periodic catch-up finds them with one small read. SQLite only: on PostgreSQL an
        # index on last_ts/scored_until makes every series update non-HOT, which costs more than
        # the catch-up's scan at any cadence faster than one point per ~30 min (make bench-catch-up).
        Index("ix_series_behind", "id", sqlite_where=text(SERIES_BEHIND)).ddl_if(dialect="sqlite"),
    )


class SeriesTag(Base):
    """One tag of a series, so tag filters are index look-ups."""
    __tablename__ = "series_tags"
    series_id: Mapped[str] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    __table_args__ = (Index("ix_series_tags_kv", "key", "value"),)


class PointRow(Base):
    """One stored point: a single B-tree entry keyed by (series number, ts) (migration 0006; the
    view `points` shows them by series id to the previous release)."""
    __tablename__ = "series_points"
    series_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ts: Mapped[float] = mapped_column(Float, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    __table_args__ = {"sqlite_with_rowid": False}


class Anomaly(Base):
    __tablename__ = "anomalies"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32))
    environment: Mapped[str] = mapped_column(String(8))
    series_id: Mapped[str] = mapped_column(ForeignKey("series.id"))
    metric: Mapped[str] = mapped_column(String(255))
    # What opened it: `stat`, `missing`, or the rule id; with started_at it makes replays idempotent.
    source: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    score: Mapped[float] = mapped_column(Float, default=0.0)
    current_value: Mapped[float] = mapped_column(Float)
    peak_value: Mapped[float] = mapped_column(Float)
    baseline_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    expected_lower: Mapped[float | None] = mapped_column(Float, nullable=True)
    expected_upper: Mapped[float | None] = mapped_column(Float, nullable=True)
    deviation_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    detected_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    point_count: Mapped[int] = mapped_column(Integer, default=1)
    rule_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    acknowledged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    root_cause: Mapped[str | None] = mapped_column(String(32), nullable=True)
    __table_args__ = (
        UniqueConstraint("series_id", "source", "started_at", name="uq_anomaly_episode"),
        # The list's indexes (migrations 0002, 0003): (scope, [filter column,] detected_at, id) is the
        # page order; the trailing small columns let the counts by status read the index alone.
        Index("ix_anomalies_scope_detected_counts", "account_id", "environment", "detected_at", "id",
              "status", "severity", "type", "root_cause", "acknowledged_at", "resolved_at"),
        Index("ix_anomalies_scope_status_detected_id", "account_id", "environment", "status", "detected_at",
              "id"),
        Index("ix_anomalies_scope_type_counts", "account_id", "environment", "type", "detected_at", "id",
              "status", "severity"),
        Index("ix_anomalies_scope_metric_counts", "account_id", "environment", "metric", "detected_at", "id",
              "status", "severity", "type"),
        Index("ix_anomalies_scope_series_counts", "account_id", "environment", "series_id", "detected_at",
              "id", "status", "severity", "type"),
        Index("ix_anomalies_series_open", "series_id", "source", "ended_at"),
    )


class AnomalyCount(Base):
    """How many anomalies a scope has per status, severity and type: kept by triggers on anomalies
    (migration 0004), so whole-scope counts need not read a million rows. A count is the sum over
    `slot` (PostgreSQL: the backend that made the change, so concurrent writers share no row)."""
    __tablename__ = "anomaly_counts"
    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    environment: Mapped[str] = mapped_column(String(8), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger)


class AnomalyEvent(Base):
    """Who did what to an anomaly, and when."""
    __tablename__ = "anomaly_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    anomaly_id: Mapped[str] = mapped_column(ForeignKey("anomalies.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[float] = mapped_column(Float)
    by: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Rule(Base):
    __tablename__ = "rules"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32))
    environment: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    metric: Mapped[str] = mapped_column(String(255))
    operator: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(16))
    scope_tags_json: Mapped[str] = mapped_column(Text, default="{}")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("account_id", "environment", "name", name="uq_rule_name"),)


class AnomalyConfigRow(Base):
    """Fields set for a metric name (`target_kind` name) or one series (`series`); NULL = inherit."""
    __tablename__ = "anomaly_configs"
    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    environment: Mapped[str] = mapped_column(String(8), primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    target: Mapped[str] = mapped_column(String(255), primary_key=True)
    enabled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    spike_threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    drop_threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    min_data_points: Mapped[int | None] = mapped_column(Integer, nullable=True)
    comparison_window: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sensitivity: Mapped[str | None] = mapped_column(String(8), nullable=True)
    seasonality: Mapped[str | None] = mapped_column(String(8), nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class Checkpoint(Base):
    __tablename__ = "checkpoints"
    series_id: Mapped[str] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    state_ts: Mapped[float] = mapped_column(Float)
    saved_at: Mapped[float] = mapped_column(Float)


class TestPost(Base):
    __tablename__ = "test_posts"
    __test__ = False  # not a pytest class
    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    environment: Mapped[str] = mapped_column(String(8), primary_key=True)
    metric: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_post_at: Mapped[float] = mapped_column(Float)
