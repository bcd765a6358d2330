"""Releases (append-only, numbered), config vars, slugs and rollback."""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Mapping

from sqlalchemy import func, select

from slipway.builder.procfile import PROCESS_TYPE_RE
from slipway.platform import audit, views
from slipway.platform.addon_keys import addon_config_keys
from slipway.platform.apps import current_release_row, find_app_row, latest_live_release_row
from slipway.platform.config_vars import apply_changes
from slipway.platform.errors import InvalidParams, NotFound
from slipway.platform.events import RuntimeChanged
from slipway.platform.formations import formation_rows, planned_formation, sync_formation
from slipway.platform.tx import Tx
from slipway.store.models import AppRow, ReleaseRow, SlugRow

PROCESS_TYPE_MAX = 128


class ReleaseReason(enum.StrEnum):
    """Why a release was made: stored with it, and what decides whether its release phase runs."""

    INITIAL = "initial"
    DEPLOY = "deploy"
    CONFIG = "config"
    ROLLBACK = "rollback"
    # Attach, detach or credential updates of an add-on: Heroku skips the release phase.
    ADDON = "addon"

    @property
    def runs_release_phase(self) -> bool:
        return self is not ReleaseReason.ADDON


def runs_release_phase(tx: Tx, row: ReleaseRow) -> bool:
    """Whether the release's release phase runs (Heroku: a slug with a `release` process
    type, on a release that is not only an add-on change)."""
    if not tx.settings.runs_dynos or not ReleaseReason(row.reason).runs_release_phase:
        return False
    slug = tx.session.get(SlugRow, row.slug_id) if row.slug_id else None
    return slug is not None and slug.checksum is not None and "release" in slug.process_types


def release_view(
    tx: Tx, row: ReleaseRow, app: AppRow, *, current_version: int | None
) -> views.Release:
    return views.Release(
        release_phase=runs_release_phase(tx, row),
        id=row.id,
        app_id=app.id,
        app_name=app.name,
        version=row.version,
        description=row.description,
        status=row.status,
        slug_id=row.slug_id,
        user_id=row.user_id,
        user_email=row.user_email,
        current=row.version == current_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def slug_view(row: SlugRow) -> views.Slug:
    return views.Slug(
        id=row.id,
        app_id=row.app_id,
        process_types=dict(row.process_types),
        commit=row.commit,
        commit_description=row.commit_description,
        buildpack_provided_description=row.buildpack_provided_description,
        stack=row.stack,
        size=row.size,
        checksum=row.checksum,
        created_at=row.created_at,
        updated_at=row.updated_at,
        runtimes=dict(row.runtimes or {}),
    )


def append_release(
    tx: Tx,
    app: AppRow,
    actor: views.Actor,
    *,
    description: str,
    reason: ReleaseReason,
    config: Mapping[str, str],
    slug_id: str | None,
) -> ReleaseRow:
    """Write release vN+1. The caller holds the app's row lock (see find_app_row(lock=True)).

    A release that boots dynos starts `pending`: the dyno manager promotes it to
    `succeeded` (current) once its release phase passed and its web dynos are up,
    or marks it `failed` and leaves the running release alone. Anything else
    (no slug yet, nothing scaled up, no dyno manager) succeeds at once.
    """
    latest = tx.session.scalar(
        select(func.max(ReleaseRow.version)).where(ReleaseRow.app_id == app.id)
    )
    now = tx.clock.now()
    slug = tx.session.get(SlugRow, slug_id) if slug_id else None
    status = "pending" if _boots(tx, app, slug) else "succeeded"
    row = ReleaseRow(
        id=str(uuid.uuid4()),
        app_id=app.id,
        version=(latest or 0) + 1,
        description=description,
        reason=reason.value,
        status=status,
        slug_id=slug_id,
        config=dict(config),
        addon_keys=addon_config_keys(tx, app.id),
        user_id=actor.id,
        user_email=actor.email,
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.log(app.id, f"{description} by user {actor.email}")
    tx.log(app.id, f"Release v{row.version} created by user {actor.email}")
    audit.record(tx, actor, f"release-{reason.value}", f"v{row.version}: {description}", app=app)
    if status == "succeeded":
        app.released_at = now
        app.updated_at = now
        sync_formation(tx, app, slug.process_types if slug else {})
    tx.emit(RuntimeChanged(app.id))
    tx.session.flush()
    return row


def _boots(tx: Tx, app: AppRow, slug: SlugRow | None) -> bool:
    if not tx.settings.runs_dynos or slug is None or slug.checksum is None:
        return False
    if "release" in slug.process_types:
        return True
    planned = planned_formation(
        slug.process_types, formation_rows(tx, app), tx.settings.default_dyno_size
    )
    return any(quantity > 0 for _, _, quantity, _ in planned)


def _current_version(tx: Tx, app: AppRow) -> int | None:
    current = current_release_row(tx, app.id)
    return current.version if current else None


def list_releases(tx: Tx, actor: views.Actor, app_ident: str) -> list[views.Release]:
    app = find_app_row(tx, actor, app_ident)
    current = _current_version(tx, app)
    rows = tx.session.scalars(
        select(ReleaseRow).where(ReleaseRow.app_id == app.id).order_by(ReleaseRow.version)
    ).all()
    runtimes: dict[str, dict[str, str]] = {
        slug_id: dict(found or {})
        for slug_id, found in tx.session.execute(
            select(SlugRow.id, SlugRow.runtimes).where(SlugRow.app_id == app.id)
        ).all()
    }
    return [
        dataclasses.replace(
            release_view(tx, r, app, current_version=current),
            slug_runtimes=runtimes.get(r.slug_id, {}) if r.slug_id else {},
        )
        for r in rows
    ]


def find_release_row(tx: Tx, app: AppRow, ident: str) -> ReleaseRow:
    """A release by version (`3`, `v3`) or id."""
    text = ident[1:] if ident[:1] in "vV" and ident[1:].isdigit() else ident
    if text.isdigit():
        query = select(ReleaseRow).where(
            ReleaseRow.app_id == app.id, ReleaseRow.version == int(text)
        )
    else:
        query = select(ReleaseRow).where(ReleaseRow.app_id == app.id, ReleaseRow.id == text)
    row = tx.session.scalar(query)
    if row is None:
        raise NotFound(f"Couldn't find that release ({ident}) for {app.name}.", resource="release")
    return row


def get_release(tx: Tx, actor: views.Actor, app_ident: str, ident: str) -> views.Release:
    app = find_app_row(tx, actor, app_ident)
    row = find_release_row(tx, app, ident)
    view = release_view(tx, row, app, current_version=_current_version(tx, app))
    slug = tx.session.get(SlugRow, row.slug_id) if row.slug_id else None
    if slug is None:
        return view
    return dataclasses.replace(view, slug_runtimes=dict(slug.runtimes or {}))


def release_output_of(tx: Tx, release_id: str) -> tuple[str, int, bool, str] | None:
    """(app id, version, whether its release phase runs, status) of a release, for its
    output URL (which carries its own token, so no actor); None when there is none."""
    row = tx.session.get(ReleaseRow, release_id)
    if row is None:
        return None
    return row.app_id, row.version, runs_release_phase(tx, row), row.status


def release_config(tx: Tx, actor: views.Actor, app_ident: str, ident: str) -> dict[str, str]:
    app = find_app_row(tx, actor, app_ident)
    return dict(find_release_row(tx, app, ident).config)


def rollback(tx: Tx, actor: views.Actor, app_ident: str, target: str) -> views.Release:
    """A new release with the target's slug and config vars. Add-ons are not touched."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    source = find_release_row(tx, app, target)
    if source.status != "succeeded":
        raise InvalidParams(
            f"Release v{source.version} is {source.status} and cannot be rolled back to; "
            "pick a release that succeeded."
        )
    live = latest_live_release_row(tx, app.id)
    if source.slug_id is None and live is not None and live.slug_id is not None:
        # Its dynos would all stop: a running app would become a blank one.
        raise InvalidParams(
            f"Release v{source.version} was made before the app's first deploy and has no "
            "build to run; pick a release that has one."
        )
    # Only code and config vars roll back: today's add-on config vars stay as they are.
    managed = set(addon_config_keys(tx, app.id))
    config = {
        k: v for k, v in source.config.items() if k not in managed and k not in source.addon_keys
    }
    config.update({k: v for k, v in app.config.items() if k in managed})
    app.config = config
    row = append_release(
        tx,
        app,
        actor,
        description=f"Rollback to v{source.version}",
        reason=ReleaseReason.ROLLBACK,
        config=config,
        slug_id=source.slug_id,
    )
    return release_view(tx, row, app, current_version=row.version)


def get_config(tx: Tx, actor: views.Actor, app_ident: str) -> dict[str, str]:
    return dict(find_app_row(tx, actor, app_ident).config)


def update_config(
    tx: Tx, actor: views.Actor, app_ident: str, changes: Mapping[str, str | None]
) -> dict[str, str]:
    """Apply a PATCH; a real change becomes a new release carrying the current slug."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    # An add-on's values are its own (they also decide which add-on servers the app's
    # dynos may reach): Heroku refuses to overwrite them.
    managed = set(addon_config_keys(tx, app.id))
    taken = sorted(
        k for k, v in changes.items() if k in managed and v is not None and v != app.config.get(k)
    )
    if taken:
        raise InvalidParams(f"Cannot overwrite attachment values {', '.join(taken)}.")
    change = apply_changes(app.config, changes, app_name=app.name)
    if change.is_empty:
        return dict(app.config)
    release_new_config(
        tx,
        app,
        actor,
        description=change.description(),
        reason=ReleaseReason.CONFIG,
        config=change.config,
    )
    return dict(change.config)


def release_new_config(
    tx: Tx,
    app: AppRow,
    actor: views.Actor,
    *,
    description: str,
    reason: ReleaseReason,
    config: Mapping[str, str],
) -> ReleaseRow:
    """New config vars as a release of the app's live slug (config:set, add-on attach...)."""
    app.config = dict(config)
    # A deploy still rolling out counts: its slug goes on with the new config.
    current = latest_live_release_row(tx, app.id)
    return append_release(
        tx,
        app,
        actor,
        description=description,
        reason=reason,
        config=config,
        slug_id=current.slug_id if current else None,
    )


def validate_process_types(process_types: Mapping[str, str]) -> None:
    for name, command in process_types.items():
        if not PROCESS_TYPE_RE.match(name):
            raise InvalidParams(
                f"Process type {name!r} is invalid: use letters, digits, '-' and '_' "
                f"(at most {PROCESS_TYPE_MAX} characters)."
            )
        if not command.strip():
            raise InvalidParams(f"Process type {name!r} has an empty command.")


def create_slug(
    tx: Tx,
    actor: views.Actor,
    app_ident: str,
    *,
    process_types: Mapping[str, str],
    commit: str | None = None,
    commit_description: str | None = None,
    buildpack_provided_description: str | None = None,
    stack: str | None = None,
    size: int | None = None,
    checksum: str | None = None,
    runtimes: Mapping[str, str] | None = None,
) -> views.Slug:
    app = find_app_row(tx, actor, app_ident)
    validate_process_types(process_types)
    if stack is not None and stack != app.stack:
        raise InvalidParams(f"Stack {stack!r} is not available here; use {app.stack}.")
    now = tx.clock.now()
    row = SlugRow(
        id=str(uuid.uuid4()),
        app_id=app.id,
        process_types=dict(process_types),
        commit=commit,
        commit_description=commit_description,
        buildpack_provided_description=buildpack_provided_description,
        stack=app.stack,
        size=size,
        checksum=checksum,
        runtimes=dict(runtimes or {}),
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    return slug_view(row)


def get_slug(tx: Tx, actor: views.Actor, app_ident: str, slug_id: str) -> views.Slug:
    app = find_app_row(tx, actor, app_ident)
    row = tx.session.get(SlugRow, slug_id)
    if row is None or row.app_id != app.id:
        raise NotFound(f"Couldn't find that slug ({slug_id}).", resource="slug")
    return slug_view(row)


def add_default_config(tx: Tx, app_id: str, defaults: Mapping[str, str]) -> list[str]:
    """A buildpack's default config vars (bin/release `config_vars`), for those the app does
    not have yet, as Heroku applies them: they are part of the deploy's release that follows.
    The names set, sorted."""
    app = tx.session.get(AppRow, app_id)
    if app is None or not defaults:
        return []
    missing = {k: v for k, v in defaults.items() if k not in app.config}
    if not missing:
        return []
    app.config = {**app.config, **missing}
    app.updated_at = tx.clock.now()
    return sorted(missing)


def release_slug(
    tx: Tx, actor: views.Actor, app_ident: str, slug_id: str, description: str | None
) -> views.Release:
    """`POST /apps/{app}/releases {"slug": ...}`: release a slug with the app's current config."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    slug = tx.session.get(SlugRow, slug_id)
    if slug is None or slug.app_id != app.id:
        raise NotFound(f"Couldn't find that slug ({slug_id}).", resource="slug")
    if description is None:
        description = f"Deploy {slug.commit[:8]}" if slug.commit else "Deploy"
    row = append_release(
        tx,
        app,
        actor,
        description=description,
        reason=ReleaseReason.DEPLOY,
        config=app.config,
        slug_id=slug.id,
    )
    return release_view(tx, row, app, current_version=row.version)
