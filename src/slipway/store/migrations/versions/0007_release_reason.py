"""Why each release was made (deploy, config, rollback, add-on ...), kept as a field.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Until now the release phase was skipped by matching the description's prefix
("Attach ", "Detach ", "Update "); a description is text for people, so the
reason becomes a column of its own, filled in for the releases already written.
It is part of what a release *is*, so the append-only trigger covers it too.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BACKFILL = """
UPDATE releases SET reason = CASE
    WHEN description = 'Initial release' THEN 'initial'
    WHEN description LIKE 'Attach %' OR description LIKE 'Detach %'
         OR description LIKE 'Update %' THEN 'addon'
    WHEN description LIKE 'Rollback to %' THEN 'rollback'
    WHEN description LIKE 'Set % config vars'
         OR description LIKE 'Remove % config vars' THEN 'config'
    ELSE 'deploy'
END
"""

_SQLITE_TRIGGER = """
CREATE TRIGGER releases_append_only
BEFORE UPDATE OF id, app_id, version, description, slug_id, config, user_id, user_email,
                 created_at, reason
ON releases
BEGIN
    SELECT RAISE(ABORT, 'releases are append-only');
END
"""

_PG_FN = """
CREATE OR REPLACE FUNCTION slipway_releases_append_only() RETURNS trigger AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.app_id <> OLD.app_id OR NEW.version <> OLD.version
       OR NEW.description <> OLD.description
       OR NEW.slug_id IS DISTINCT FROM OLD.slug_id
       OR NEW.config::text <> OLD.config::text
       OR NEW.user_id <> OLD.user_id OR NEW.created_at <> OLD.created_at
       OR NEW.reason <> OLD.reason THEN
        RAISE EXCEPTION 'releases are append-only';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.add_column(
        "releases",
        sa.Column("reason", sa.String(20), nullable=False, server_default="deploy"),
    )
    op.execute(_BACKFILL)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS releases_append_only")
        op.execute(_SQLITE_TRIGGER)
    else:
        op.execute(_PG_FN)


def downgrade() -> None:
    raise NotImplementedError("Releases keep their reason; restore a backup to go back.")
