"""Log drains.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from slipway.store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_drains",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("token", sa.String(40), nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("app_id", "url", name="uq_log_drains_app_url"),
    )
    op.create_index("ix_log_drains_app_id", "log_drains", ["app_id"])


def downgrade() -> None:
    op.drop_table("log_drains")
