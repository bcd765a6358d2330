"""Accounts, API keys, apps, slugs, releases and formation.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from slipway.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Releases are append-only: once written, what a release *is* (its version,
# slug and config snapshot) never changes. Only its status may move
# (pending -> succeeded/failed). The database enforces this, not just the code.
_SQLITE_RELEASES_APPEND_ONLY = """
CREATE TRIGGER releases_append_only
BEFORE UPDATE OF id, app_id, version, description, slug_id, config, user_id, user_email, created_at
ON releases
BEGIN
    SELECT RAISE(ABORT, 'releases are append-only');
END
"""

_PG_RELEASES_APPEND_ONLY_FN = """
CREATE FUNCTION slipway_releases_append_only() RETURNS trigger AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.app_id <> OLD.app_id OR NEW.version <> OLD.version
       OR NEW.description <> OLD.description
       OR NEW.slug_id IS DISTINCT FROM OLD.slug_id
       OR NEW.config::text <> OLD.config::text
       OR NEW.user_id <> OLD.user_id OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'releases are append-only';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""

_PG_RELEASES_APPEND_ONLY_TRIGGER = """
CREATE TRIGGER releases_append_only BEFORE UPDATE ON releases
FOR EACH ROW EXECUTE FUNCTION slipway_releases_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "account_id",
            sa.String(36),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "apps",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(30), nullable=False, unique=True),
        sa.Column(
            "owner_id",
            sa.String(36),
            sa.ForeignKey("accounts.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("maintenance", sa.Boolean, nullable=False),
        sa.Column("stack", sa.String(50), nullable=False),
        sa.Column("build_stack", sa.String(50), nullable=False),
        sa.Column("region", sa.String(50), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("released_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "slugs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("process_types", sa.JSON, nullable=False),
        sa.Column("commit", sa.String(64), nullable=True),
        sa.Column("commit_description", sa.Text, nullable=True),
        sa.Column("buildpack_provided_description", sa.String(200), nullable=True),
        sa.Column("stack", sa.String(50), nullable=False),
        sa.Column("size", sa.Integer, nullable=True),
        sa.Column("checksum", sa.String(80), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_slugs_app_id", "slugs", ["app_id"])
    op.create_table(
        "releases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column(
            "slug_id", sa.String(36), sa.ForeignKey("slugs.id", ondelete="RESTRICT"), nullable=True
        ),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("user_email", sa.String(254), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("app_id", "version", name="uq_releases_app_version"),
    )
    op.create_index("ix_releases_app_id", "releases", ["app_id"])
    op.create_table(
        "formations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("size", sa.String(30), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("app_id", "type", name="uq_formations_app_type"),
    )
    op.create_index("ix_formations_app_id", "formations", ["app_id"])

    if op.get_bind().dialect.name == "sqlite":
        op.execute(_SQLITE_RELEASES_APPEND_ONLY)
    else:
        op.execute(_PG_RELEASES_APPEND_ONLY_FN)
        op.execute(_PG_RELEASES_APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS releases_append_only"
        + ("" if op.get_bind().dialect.name == "sqlite" else " ON releases")
    )
    for table in ("formations", "releases", "slugs", "apps", "api_keys", "accounts"):
        op.drop_table(table)
