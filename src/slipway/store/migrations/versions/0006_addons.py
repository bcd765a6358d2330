"""Add-ons and their attachments; which config vars of a release came from add-ons.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from slipway.store.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "addons",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="RESTRICT"), index=True
        ),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("plan", sa.String(200), nullable=False),
        sa.Column("resource_id", sa.String(200), nullable=True),
        sa.Column("config_keys", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "addon_attachments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "addon_id", sa.String(36), sa.ForeignKey("addons.id", ondelete="CASCADE"), index=True
        ),
        sa.Column(
            "app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), index=True
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("app_id", "name", name="uq_attachments_app_name"),
    )
    # A plain ADD COLUMN: a batch (copy-and-move) rebuild on SQLite would drop the
    # trigger that keeps releases append-only.
    op.add_column(
        "releases",
        sa.Column("addon_keys", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("addon_keys")
    op.drop_table("addon_attachments")
    op.drop_table("addons")
