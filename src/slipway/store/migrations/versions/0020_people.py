"""People: passwords, OAuth authorizations, collaborators, teams, invitations, transfers, audit.

Revision ID: 0020
Revises: 0010
Create Date: 2026-12-02

API keys become authorizations of kind `api-key` (global scope, no expiry), so
the admin key of an existing data directory keeps working. Emails are compared
without case from now on, so the ones already stored are lowercased.
"""

import sqlalchemy as sa
from alembic import op

from slipway.store.models import UTCDateTime

revision = "0020"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs, never a batch copy: on SQLite a copy drops the old table, and with
    # foreign keys on that would cascade into every table that references it.
    op.add_column("accounts", sa.Column("password_hash", sa.String(200), nullable=True))
    op.add_column("accounts", sa.Column("disabled_at", UTCDateTime, nullable=True))
    op.add_column("accounts", sa.Column("last_login_at", UTCDateTime, nullable=True))
    op.execute("UPDATE accounts SET email = lower(email)")

    op.create_table(
        "authorizations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "account_id",
            sa.String(36),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("scope", sa.JSON, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("token_display", sa.String(40), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("last_used_at", UTCDateTime, nullable=True),
        sa.Column("last_used_from", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    # The keys themselves were never stored, so their display is the prefix alone.
    op.execute(
        "INSERT INTO authorizations (id, account_id, kind, description, scope, token_hash, "
        "token_display, created_at, updated_at) "
        "SELECT id, account_id, 'api-key', description, '[\"global\"]', token_hash, "
        "'HRKU-**********', created_at, created_at FROM api_keys"
    )
    op.drop_table("api_keys")

    op.create_table(
        "teams",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(30), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "team_members",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "team_id",
            sa.String(36),
            sa.ForeignKey("teams.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "account_id",
            sa.String(36),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("team_id", "account_id", name="uq_team_members"),
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its REFERENCES clause in place (no table copy, see
        # above); alembic would only offer a batch copy for the foreign key.
        op.execute(
            "ALTER TABLE apps ADD COLUMN team_id VARCHAR(36) "
            "REFERENCES teams (id) ON DELETE RESTRICT"
        )
    else:
        op.add_column("apps", sa.Column("team_id", sa.String(36), nullable=True))
        op.create_foreign_key(
            "fk_apps_team_id", "apps", "teams", ["team_id"], ["id"], ondelete="RESTRICT"
        )
    op.add_column(
        "apps", sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.create_index("ix_apps_team_id", "apps", ["team_id"])

    op.create_table(
        "collaborators",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "app_id",
            sa.String(36),
            sa.ForeignKey("apps.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "account_id",
            sa.String(36),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("permissions", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("app_id", "account_id", name="uq_collaborators"),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "team_id",
            sa.String(36),
            sa.ForeignKey("teams.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("invited_by_id", sa.String(36), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("accepted_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "app_transfers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "app_id",
            sa.String(36),
            sa.ForeignKey("apps.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "owner_id",
            sa.String(36),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "recipient_id",
            sa.String(36),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False, index=True),
        sa.Column("action", sa.String(40), nullable=False, index=True),
        sa.Column("account_id", sa.String(36), nullable=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("app_id", sa.String(36), nullable=True, index=True),
        sa.Column("app_name", sa.String(30), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("Authorizations replace API keys; restore a backup to go back.")
