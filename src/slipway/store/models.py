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
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # Only a SHA-256 of the key is kept: a copy of the store does not hand out logins.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AppRow(Base):
    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
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
