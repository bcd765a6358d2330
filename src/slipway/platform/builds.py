"""Build records, per-app buildpacks, and which slugs must be kept."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from slipway.builder.buildpack_resolver import BUILTINS, validate
from slipway.builder.errors import BuildpackError
from slipway.platform import views
from slipway.platform.apps import current_release_row, find_app_row
from slipway.platform.errors import InvalidParams, NotFound
from slipway.platform.tx import Tx
from slipway.store.models import AppRow, BuildRow, ReleaseRow, SlugRow

MAX_BUILDPACKS = 10


def build_view(tx: Tx, row: BuildRow, app: AppRow) -> views.Build:
    version = None
    if row.release_id:
        release = tx.session.get(ReleaseRow, row.release_id)
        version = release.version if release else None
    slug = tx.session.get(SlugRow, row.slug_id) if row.slug_id else None
    return views.Build(
        id=row.id,
        app_id=app.id,
        app_name=app.name,
        status=row.status,
        source_url=row.source_url,
        source_version=row.source_version,
        source_checksum=row.source_checksum,
        buildpacks=tuple(row.buildpacks),
        stack=row.stack,
        slug_id=row.slug_id,
        release_id=row.release_id,
        release_version=version,
        user_id=row.user_id,
        user_email=row.user_email,
        created_at=row.created_at,
        updated_at=row.updated_at,
        runtimes=dict(slug.runtimes or {}) if slug else {},
    )


def start_build(
    tx: Tx,
    actor: views.Actor,
    app_ident: str,
    *,
    source_url: str | None,
    source_version: str | None,
    source_checksum: str | None,
    buildpacks: Sequence[str] | None = None,
) -> tuple[views.Build, views.BuildContext]:
    app = find_app_row(tx, actor, app_ident)
    chosen = list(buildpacks) if buildpacks else list(app.buildpacks)
    for url in chosen:
        _validate_buildpack(url)
    now = tx.clock.now()
    row = BuildRow(
        id=str(uuid.uuid4()),
        app_id=app.id,
        status="pending",
        source_url=source_url,
        source_version=source_version,
        source_checksum=source_checksum,
        buildpacks=chosen,
        stack=app.stack,
        slug_id=None,
        release_id=None,
        user_id=actor.id,
        user_email=actor.email,
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    context = views.BuildContext(
        build_id=row.id,
        app_id=app.id,
        app_name=app.name,
        uid=app.uid,
        config=dict(app.config),
        buildpacks=tuple(chosen),
        stack=app.stack,
        web_url=tx.settings.web_url(app.name),
        source_version=source_version,
    )
    return build_view(tx, row, app), context


def mark_build(
    tx: Tx, build_id: str, status: str, *, slug_id: str | None = None, release_id: str | None = None
) -> None:
    row = tx.session.get(BuildRow, build_id)
    if row is None:
        return  # the app was destroyed while it built
    row.status = status
    row.slug_id = slug_id
    row.release_id = release_id
    row.updated_at = tx.clock.now()


def list_builds(tx: Tx, actor: views.Actor, app_ident: str) -> list[views.Build]:
    app = find_app_row(tx, actor, app_ident)
    rows = tx.session.scalars(
        select(BuildRow).where(BuildRow.app_id == app.id).order_by(BuildRow.created_at)
    ).all()
    return [build_view(tx, r, app) for r in rows]


def get_build(tx: Tx, actor: views.Actor, app_ident: str, build_id: str) -> views.Build:
    app = find_app_row(tx, actor, app_ident)
    row = tx.session.get(BuildRow, build_id)
    if row is None or row.app_id != app.id:
        raise NotFound(f"Couldn't find that build ({build_id}).", resource="build")
    return build_view(tx, row, app)


def build_app_id(tx: Tx, build_id: str) -> str | None:
    row = tx.session.get(BuildRow, build_id)
    return row.app_id if row else None


def _validate_buildpack(url: str) -> str:
    try:
        return validate(url)
    except BuildpackError as exc:
        raise InvalidParams(exc.message) from exc


def get_buildpacks(tx: Tx, actor: views.Actor, app_ident: str) -> list[str]:
    return list(find_app_row(tx, actor, app_ident).buildpacks)


def set_buildpacks(tx: Tx, actor: views.Actor, app_ident: str, urls: Sequence[str]) -> list[str]:
    app = find_app_row(tx, actor, app_ident, lock=True)
    if len(urls) > MAX_BUILDPACKS:
        raise InvalidParams(f"An app can have at most {MAX_BUILDPACKS} buildpacks.")
    cleaned = [_validate_buildpack(u) for u in urls if u.strip()]
    if len(set(cleaned)) != len(cleaned):
        raise InvalidParams("A buildpack appears twice; list each buildpack once.")
    app.buildpacks = cleaned
    app.updated_at = tx.clock.now()
    return cleaned


def registry_buildpack(namespace: str, name: str) -> str:
    """The built-in buildpack a registry name stands for (`heroku/python`: the official CLI
    looks a name up before `buildpacks:set`); NotFound for any other name."""
    ref = f"{namespace}/{name}"
    if ref not in BUILTINS:
        raise NotFound(f"Couldn't find that buildpack ({ref}).", resource="buildpack")
    return ref


def slugs_to_keep(tx: Tx, keep_last: int) -> set[str]:
    """sha256 of every slug used by an app's current release or one of its last N releases."""
    keep: set[str] = set()
    for app in tx.session.scalars(select(AppRow)).all():
        rows = tx.session.scalars(
            select(ReleaseRow.slug_id)
            .where(ReleaseRow.app_id == app.id, ReleaseRow.slug_id.is_not(None))
            .order_by(ReleaseRow.version.desc())
            .limit(keep_last)
        ).all()
        ids = set(rows)
        current = current_release_row(tx, app.id)
        if current and current.slug_id:
            ids.add(current.slug_id)
        for slug_id in ids:
            slug = tx.session.get(SlugRow, slug_id)
            if slug and slug.checksum and slug.checksum.startswith("SHA256:"):
                keep.add(slug.checksum.removeprefix("SHA256:"))
    return keep


def start_context_config(tx: Tx, app_id: str) -> dict[str, str]:
    app = tx.session.get(AppRow, app_id)
    if app is None:
        raise NotFound("The app was destroyed while its build waited.", resource="app")
    return dict(app.config)


def build_status(tx: Tx, build_id: str) -> str | None:
    row = tx.session.get(BuildRow, build_id)
    return row.status if row else None


def build_ids_of(tx: Tx, app_id: str) -> list[str]:
    return list(tx.session.scalars(select(BuildRow.id).where(BuildRow.app_id == app_id)))
