"""The runtimes each slug carries, and app setups (app.json).

Revision ID: 0050
Revises: 0020
Create Date: 2026-12-01

A slug records the language runtimes its buildpacks put into it (`{"Node.js": "18.20.8"}`);
an app setup is Heroku's app-setup resource: an app made from a source tarball's app.json,
followed step by step until it succeeds or fails at a named step.
"""

import sqlalchemy as sa
from alembic import op

from slipway.store.models import UTCDateTime

revision = "0050"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slugs") as batch:
        batch.add_column(sa.Column("runtimes", sa.JSON, nullable=False, server_default="{}"))
    op.create_table(
        "app_setups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "app_id",
            sa.String(36),
            sa.ForeignKey("apps.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("step", sa.String(40), nullable=True),
        sa.Column("failure_message", sa.Text, nullable=True),
        sa.Column("manifest_errors", sa.JSON, nullable=False),
        sa.Column("build_id", sa.String(36), nullable=True),
        sa.Column("postdeploy", sa.JSON, nullable=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_setups")
    with op.batch_alter_table("slugs") as batch:
        batch.drop_column("runtimes")
