"""Heroku Scheduler's jobs and pg:backups:schedule's daily schedules.

Revision ID: 0060
Revises: 0050
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from slipway.store.models import UTCDateTime

revision = "0060"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "addon_id", sa.String(36), sa.ForeignKey("addons.id", ondelete="CASCADE"), index=True
        ),
        sa.Column(
            "app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), index=True
        ),
        sa.Column("frequency", sa.String(100), nullable=False),
        sa.Column("schedule", sa.String(100), nullable=False),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("size", sa.String(40), nullable=False),
        sa.Column("next_run_at", UTCDateTime, nullable=False, index=True),
        sa.Column("last_run_at", UTCDateTime, nullable=True),
        sa.Column("last_dyno", sa.String(100), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "backup_schedules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "addon_id", sa.String(36), sa.ForeignKey("addons.id", ondelete="CASCADE"), index=True
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("next_run_at", UTCDateTime, nullable=False, index=True),
        sa.Column("last_run_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("addon_id", name="uq_backup_schedules_addon"),
    )


def downgrade() -> None:
    op.drop_table("backup_schedules")
    op.drop_table("scheduler_jobs")
