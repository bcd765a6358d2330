"""Metrics: per app, process type and interval (issue 16).

Revision ID: 0080
Revises: 0070
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from slipway.store.models import UTCDateTime

revision = "0080"
down_revision = "0070"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metrics",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), index=True
        ),
        sa.Column("process_type", sa.String(128), nullable=False),
        sa.Column("resolution", sa.Integer, nullable=False),
        sa.Column("start", UTCDateTime, nullable=False, index=True),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("sketch", sa.JSON, nullable=False),
        sa.Column("memory_rss_mb", sa.Float, nullable=False),
        sa.Column("memory_swap_mb", sa.Float, nullable=False),
        sa.Column("memory_quota_mb", sa.Float, nullable=False),
        sa.Column("cpu_seconds", sa.Float, nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("eco_seconds", sa.Float, nullable=False),
        sa.UniqueConstraint(
            "app_id", "process_type", "resolution", "start", name="uq_metrics_slot"
        ),
    )


def downgrade() -> None:
    op.drop_table("metrics")
