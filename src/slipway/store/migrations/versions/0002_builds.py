"""Builds, per-app buildpacks and the per-app uid.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from slipway.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FIRST_APP_UID = 20000


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("buildpacks", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("uid", sa.Integer, nullable=True))
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM apps ORDER BY created_at, id"))]
    for offset, app_id in enumerate(ids):
        bind.execute(
            sa.text("UPDATE apps SET uid = :uid WHERE id = :id"),
            {"uid": FIRST_APP_UID + offset, "id": app_id},
        )
    with op.batch_alter_table("apps") as batch:
        batch.alter_column("uid", existing_type=sa.Integer, nullable=False)
        batch.create_unique_constraint("uq_apps_uid", ["uid"])
    with op.batch_alter_table("formations") as batch:
        # Heroku allows process type names of up to 128 characters.
        batch.alter_column("type", existing_type=sa.String(60), type_=sa.String(128))
    op.create_table(
        "builds",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source_url", sa.Text, nullable=True),
        sa.Column("source_version", sa.String(64), nullable=True),
        sa.Column("source_checksum", sa.String(80), nullable=True),
        sa.Column("buildpacks", sa.JSON, nullable=False),
        sa.Column("stack", sa.String(50), nullable=False),
        sa.Column("slug_id", sa.String(36), nullable=True),
        sa.Column("release_id", sa.String(36), nullable=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("user_email", sa.String(254), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_builds_app_id", "builds", ["app_id"])


def downgrade() -> None:
    op.drop_table("builds")
    with op.batch_alter_table("apps") as batch:
        batch.drop_constraint("uq_apps_uid")
        batch.drop_column("uid")
        batch.drop_column("buildpacks")
