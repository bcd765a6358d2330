"""Each app's labs features (preboot, runtime-dyno-metadata), and the restores of add-ons.

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-02

`apps.features` holds only what was switched away from its default
(`{"preboot": false}`), so a feature added later starts at its default for
every app. `addon_restores` records each `pg:backups:restore` as Heroku's data
API lists it (a transfer numbered r001, r002 ... per add-on); the backups
themselves are the provider's files.
"""

import sqlalchemy as sa
from alembic import op

from slipway.store.models import UTCDateTime

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "apps", sa.Column("features", sa.JSON, nullable=False, server_default=sa.text("'{}'"))
    )
    op.create_table(
        "addon_restores",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "addon_id", sa.String(36), sa.ForeignKey("addons.id", ondelete="CASCADE"), index=True
        ),
        sa.Column("num", sa.Integer, nullable=False),
        # What was restored: a backup's name (b001), with the add-on it belongs to.
        sa.Column("backup_name", sa.String(100), nullable=False),
        sa.Column("source_addon_id", sa.String(36), nullable=True),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("source_bytes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("user_email", sa.String(254), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("addon_id", "num", name="uq_addon_restores_num"),
    )


def downgrade() -> None:
    op.drop_table("addon_restores")
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("features")
