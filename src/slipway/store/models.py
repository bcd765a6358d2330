"""The tables. Rows are plain data; the rules about them live in `slipway.platform`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware.

    SQLite drops the zone on the way in, so it is re-attached on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class AccountRow(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # An argon2 hash (argon2-cffi's encoded form); None: the account signs in with a key only.
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # A disabled account's tokens are refused and it cannot sign in.
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AuthorizationRow(Base):
    """An OAuth authorization (Heroku's): a token, its scope and expiry. An account's API
    key is one too, of kind `api-key`: global and never expiring."""

    __tablename__ = "authorizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default="oauth")
    description: Mapped[str] = mapped_column(String(200), default="")
    scope: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Only a SHA-256 of the token is kept: a copy of the store does not hand out logins.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first and last characters around Heroku's ten asterisks, so the CLI's
    # logout can still find its own authorization in the list.
    token_display: Mapped[str] = mapped_column(String(40), default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_from: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TeamRow(Base):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TeamMemberRow(Base):
    """A person in a team with a role: admin, member or viewer (Heroku's team roles)."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "account_id", name="uq_team_members"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AppRow(Base):
    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    # A team app belongs to the team: its members' roles and permissions decide access,
    # and owner_id is only who created (or last transferred) it.
    team_id: Mapped[str | None] = mapped_column(
        ForeignKey("teams.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    # A locked team app admits no collaborator who is not a team member.
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    stack: Mapped[str] = mapped_column(String(50))
    build_stack: Mapped[str] = mapped_column(String(50))
    region: Mapped[str] = mapped_column(String(50))
    # The app's live config vars. Every change also snapshots them into a new release.
    config: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Buildpack URLs or names in order; empty means "detect".
    buildpacks: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Sleep when idle (as eco dynos do), whatever the dyno size.
    sleeps: Mapped[bool] = mapped_column(Boolean, default=False)
    # The unprivileged uid its builds and dynos run as.
    uid: Mapped[int] = mapped_column(Integer, unique=True)
    # Labs features switched away from their default (platform.features), e.g. {"preboot": false}.
    features: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    # Automatic Certificate Management (`heroku certs:auto:enable|disable`): on by default,
    # it takes effect on a server with --domain.
    acm: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SlugRow(Base):
    __tablename__ = "slugs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    process_types: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    commit_description: Mapped[str | None] = mapped_column(Text, nullable=True)
    buildpack_provided_description: Mapped[str | None] = mapped_column(String(200), nullable=True)
    stack: Mapped[str] = mapped_column(String(50))
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checksum: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # The language runtimes inside, as the buildpacks' bin/release reported them.
    runtimes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ReleaseRow(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("app_id", "version", name="uq_releases_app_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    # Why it was made (platform.releases.ReleaseReason): deploy, config, rollback, addon...
    reason: Mapped[str] = mapped_column(String(20), default="deploy")
    status: Mapped[str] = mapped_column(String(20))
    slug_id: Mapped[str | None] = mapped_column(
        ForeignKey("slugs.id", ondelete="RESTRICT"), nullable=True
    )
    config: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The config vars that add-on attachments set: a rollback keeps today's, not these.
    addon_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    user_id: Mapped[str] = mapped_column(String(36))
    user_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FormationRow(Base):
    __tablename__ = "formations"
    __table_args__ = (UniqueConstraint("app_id", "type", name="uq_formations_app_type"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(128))
    command: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class BuildRow(Base):
    __tablename__ = "builds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_checksum: Mapped[str | None] = mapped_column(String(80), nullable=True)
    buildpacks: Mapped[list[str]] = mapped_column(JSON, default=list)
    stack: Mapped[str] = mapped_column(String(50))
    slug_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    release_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    user_id: Mapped[str] = mapped_column(String(36))
    user_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AppSetupRow(Base):
    """An app made from app.json (Heroku's app-setup): where it got to, and how it ended."""

    __tablename__ = "app_setups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # pending, succeeded, failed
    step: Mapped[str | None] = mapped_column(String(40), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    manifest_errors: Mapped[list[str]] = mapped_column(JSON, default=list)
    build_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    postdeploy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    user_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LogDrainRow(Base):
    __tablename__ = "log_drains"
    __table_args__ = (UniqueConstraint("app_id", "url", name="uq_log_drains_app_url"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class EcoUsageRow(Base):
    """Eco dyno seconds an account used in one month (`2026-11`): the 1000-hour pool."""

    __tablename__ = "eco_usage"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)


class DomainRow(Base):
    """A custom hostname routed to an app (the app's own APP.<base domain> is implicit)."""

    __tablename__ = "domains"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    hostname: Mapped[str] = mapped_column(String(253), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AddonRow(Base):
    """A provisioned add-on; its billing app is `app_id`, its resource the provider's."""

    __tablename__ = "addons"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    service: Mapped[str] = mapped_column(String(100))
    plan: Mapped[str] = mapped_column(String(200))
    resource_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The provider's config keys ("URL"): an attachment NAME sets NAME_URL.
    config_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AddonAttachmentRow(Base):
    """An add-on attached to an app as NAME: the app gets NAME_URL (and the like)."""

    __tablename__ = "addon_attachments"
    __table_args__ = (UniqueConstraint("app_id", "name", name="uq_attachments_app_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    addon_id: Mapped[str] = mapped_column(ForeignKey("addons.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SchedulerJobRow(Base):
    """A Heroku Scheduler job: run `command` in a one-off dyno whenever `schedule` says.

    `schedule` is the cron expression the job runs on (UTC); `frequency` is what the
    user gave ("every 10 minutes", "every day at 02:00", or the cron itself).
    """

    __tablename__ = "scheduler_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    addon_id: Mapped[str] = mapped_column(ForeignKey("addons.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    frequency: Mapped[str] = mapped_column(String(100))
    schedule: Mapped[str] = mapped_column(String(100))
    command: Mapped[str] = mapped_column(Text)
    size: Mapped[str] = mapped_column(String(40))
    # When it runs next; recomputed from `now` at every start, so runs missed while the
    # platform was down are never replayed (Heroku's behaviour).
    next_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The one-off dyno of its last run (`scheduler.4821`): still running means no second run.
    last_dyno: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CollaboratorRow(Base):
    """Someone other than the owner with access to an app, and their app permissions."""

    __tablename__ = "collaborators"
    __table_args__ = (UniqueConstraint("app_id", "account_id", name="uq_collaborators"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class BackupScheduleRow(Base):
    """pg:backups:schedule: a daily backup of an add-on at `hour` in `timezone`."""

    __tablename__ = "backup_schedules"
    __table_args__ = (UniqueConstraint("addon_id", name="uq_backup_schedules_addon"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    addon_id: Mapped[str] = mapped_column(ForeignKey("addons.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))  # what the user named, "DATABASE_URL"
    hour: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    next_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class InvitationRow(Base):
    """An invitation link: to make an account, and (with team_id) to join a team."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    team_id: Mapped[str | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), nullable=True
    )
    role: Mapped[str | None] = mapped_column(String(20), nullable=True)
    invited_by_id: Mapped[str] = mapped_column(String(36))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AppTransferRow(Base):
    """A request to move a personal app to another account, which that account accepts."""

    __tablename__ = "app_transfers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    recipient_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AuditEventRow(Base):
    """Who did what, when, from where: changes to apps and access, and sign-ins. Kept
    after the app is gone (no foreign key), so the record outlives what it describes."""

    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    account_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    app_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    app_name: Mapped[str | None] = mapped_column(String(30), nullable=True)
    description: Mapped[str] = mapped_column(Text)


class AddonRestoreRow(Base):
    """One `pg:backups:restore` into an add-on: the transfer r001, r002 ... of Heroku's data API."""

    __tablename__ = "addon_restores"
    __table_args__ = (UniqueConstraint("addon_id", "num", name="uq_addon_restores_num"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    addon_id: Mapped[str] = mapped_column(ForeignKey("addons.id", ondelete="CASCADE"), index=True)
    num: Mapped[int] = mapped_column(Integer)
    backup_name: Mapped[str] = mapped_column(String(100))
    # The add-on whose backup it was, when not this one (`APP::b001`).
    source_addon_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    # Why it failed, in one sentence; empty when it succeeded.
    message: Mapped[str] = mapped_column(Text, default="")
    source_bytes: Mapped[int] = mapped_column(Integer, default=0)
    user_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class MetricRow(Base):
    """One app's process type over one interval (60 s rows kept 24 h, 600 s rows 7 days):
    what the router and the runtime measured (platform/metrics)."""

    __tablename__ = "metrics"
    __table_args__ = (
        UniqueConstraint("app_id", "process_type", "resolution", "start", name="uq_metrics_slot"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    process_type: Mapped[str] = mapped_column(String(128))
    resolution: Mapped[int] = mapped_column(Integer)  # seconds: 60 or 600
    start: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    # {"2xx": n, ..., "H12": n}: requests by status class and by H-code.
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # The response times' DDSketch (platform/metrics/sketch.py), mergeable across rows.
    sketch: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Dyno samples: the highest resident and swap memory (MB) and the quota, CPU seconds
    # used, and the runtime's events (R14, R15, restarts, crashes) and eco seconds.
    memory_rss_mb: Mapped[float] = mapped_column(Float, default=0.0)
    memory_swap_mb: Mapped[float] = mapped_column(Float, default=0.0)
    memory_quota_mb: Mapped[float] = mapped_column(Float, default=0.0)
    cpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    events: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    eco_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class TlsCertificateRow(Base):
    """A certificate the router serves by SNI: one ACM issued (`kind` "acm", one host name,
    the platform's hosts have no app) or one a user added (`kind` "sni", an SNI endpoint).
    The private key is a secret: never logged, never serialised."""

    __tablename__ = "tls_certificates"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str | None] = mapped_column(
        ForeignKey("apps.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    # The SNI endpoint's name (`heroku certs:info --name`), unique.
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The names it covers (subjectAltName DNS entries), lowercased.
    hostnames: Mapped[list[str]] = mapped_column(JSON, default=list)
    cert_pem: Mapped[str] = mapped_column(Text)
    key_pem: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AcmHostRow(Base):
    """A host name Automatic Certificate Management looks after: its status (Heroku's
    `acm_status`/`acm_status_reason`), its failed attempts and when to try again."""

    __tablename__ = "acm_hosts"

    hostname: Mapped[str] = mapped_column(String(253), primary_key=True)
    app_id: Mapped[str | None] = mapped_column(
        ForeignKey("apps.id", ondelete="CASCADE"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    certificate_id: Mapped[str | None] = mapped_column(
        ForeignKey("tls_certificates.id", ondelete="SET NULL"), nullable=True
    )
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
