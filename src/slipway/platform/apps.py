"""Apps: create, find (by name or id, with access checks), rename, maintenance, destroy."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select

from slipway.platform import access, audit, views
from slipway.platform.authorizations import account_view
from slipway.platform.errors import InvalidParams, NotFound, PlatformError
from slipway.platform.events import AppDestroyed, RuntimeChanged
from slipway.platform.names import generate_app_name, validate_app_name
from slipway.platform.permissions import MANAGE
from slipway.platform.tx import Tx
from slipway.store.models import (
    AccountRow,
    AppRow,
    BuildRow,
    CollaboratorRow,
    FormationRow,
    LogDrainRow,
    MetricRow,
    ReleaseRow,
    SlugRow,
    TeamRow,
)

_UUID_LEN = 36


def _looks_like_uuid(ident: str) -> bool:
    if len(ident) != _UUID_LEN:
        return False
    try:
        uuid.UUID(ident)
    except ValueError:
        return False
    return True


def find_app_row(tx: Tx, actor: views.Actor, ident: str, *, lock: bool = False) -> AppRow:
    """The app named `ident` (its name or its id), once `actor` may do what its door
    needs to it (`access.authorise`): 404 when there is no such app, else 403."""
    column = AppRow.id if _looks_like_uuid(ident) else AppRow.name
    query = select(AppRow).where(column == ident)
    if lock:
        # Serialises writers on PostgreSQL (release numbering); SQLite already is.
        query = query.with_for_update()
    row = tx.session.scalar(query)
    if row is None:
        raise NotFound("Couldn't find that app.", resource="app")
    access.authorise(tx, actor, row)
    return row


def latest_live_release_row(tx: Tx, app_id: str) -> ReleaseRow | None:
    """The newest release that has not failed: the current one, or one on its way."""
    return tx.session.scalar(
        select(ReleaseRow)
        .where(ReleaseRow.app_id == app_id, ReleaseRow.status.in_(("pending", "succeeded")))
        .order_by(ReleaseRow.version.desc())
        .limit(1)
    )


def current_release_row(tx: Tx, app_id: str) -> ReleaseRow | None:
    return tx.session.scalar(
        select(ReleaseRow)
        .where(ReleaseRow.app_id == app_id, ReleaseRow.status == "succeeded")
        .order_by(ReleaseRow.version.desc())
        .limit(1)
    )


def app_view(tx: Tx, row: AppRow) -> views.App:
    owner = tx.session.get(AccountRow, row.owner_id)
    assert owner is not None
    slug = None
    current = current_release_row(tx, row.id)
    if current is not None and current.slug_id is not None:
        slug = tx.session.get(SlugRow, current.slug_id)
    sizes = {
        s.lower()
        for s in tx.session.scalars(select(FormationRow.size).where(FormationRow.app_id == row.id))
    }
    tier = "eco" if "eco" in sizes else "basic" if sizes <= {"basic"} and sizes else "production"
    team = tx.session.get(TeamRow, row.team_id) if row.team_id else None
    return views.App(
        team=views.TeamRef(team.id, team.name) if team else None,
        locked=row.locked,
        process_tier=tier,
        sleeps=row.sleeps,
        id=row.id,
        name=row.name,
        owner=account_view(owner),
        maintenance=row.maintenance,
        stack=row.stack,
        build_stack=row.build_stack,
        region=row.region,
        web_url=tx.settings.web_url(row.name),
        git_url=tx.settings.git_url(row.name),
        slug_size=(slug.size or 0) if slug else 0,
        buildpack_provided_description=slug.buildpack_provided_description if slug else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        released_at=row.released_at,
        slug_commit=slug.commit if slug else None,
        feature_switches=dict(row.features or {}),
        acm=bool(row.acm) and tx.settings.acme,
    )


def _name_taken(tx: Tx, name: str) -> bool:
    return tx.session.scalar(select(AppRow.id).where(AppRow.name == name)) is not None


def create_app(
    tx: Tx, actor: views.Actor, name: str | None, *, team: TeamRow | None = None
) -> views.App:
    """A personal app, or (with `team`, checked by the caller) one of the team's."""
    from slipway.platform.releases import ReleaseReason, append_release

    if name is None:
        for _ in range(50):
            candidate = generate_app_name(tx.rng)
            if not _name_taken(tx, candidate):
                name = candidate
                break
        else:
            raise PlatformError("Could not pick a free app name; pass one explicitly.")
    else:
        validate_app_name(name)
        if _name_taken(tx, name):
            raise InvalidParams(f"Name {name} is already taken; choose another.")
    now = tx.clock.now()
    row = AppRow(
        id=str(uuid.uuid4()),
        name=name,
        owner_id=actor.id,
        team_id=team.id if team else None,
        locked=False,
        maintenance=False,
        stack=tx.settings.stack,
        build_stack=tx.settings.stack,
        region=tx.settings.region,
        config={},
        buildpacks=[],
        features={},
        uid=_next_uid(tx),
        created_at=now,
        updated_at=now,
        released_at=None,
    )
    tx.session.add(row)
    tx.emit(RuntimeChanged(row.id))
    tx.session.flush()
    if team is not None and access.team_role(tx, actor.id, team.id) != "admin":
        # Whoever makes a team app gets every permission on it, as on Heroku.
        tx.session.add(
            CollaboratorRow(
                id=str(uuid.uuid4()),
                app_id=row.id,
                account_id=actor.id,
                permissions=["view", "deploy", "operate", "manage"],
                created_at=now,
                updated_at=now,
            )
        )
    audit.record(tx, actor, "app-create", f"Created {name}", app=row)
    append_release(
        tx,
        row,
        actor,
        description="Initial release",
        reason=ReleaseReason.INITIAL,
        config={},
        slug_id=None,
    )
    return app_view(tx, row)


FIRST_APP_UID = 20000


def _next_uid(tx: Tx) -> int:
    """Each app gets its own unprivileged uid for builds and dynos (unique in the store)."""
    highest = tx.session.scalar(select(func.max(AppRow.uid)))
    return FIRST_APP_UID if highest is None else highest + 1


def list_apps(tx: Tx, actor: views.Actor, *, team_id: str | None = None) -> list[views.App]:
    """The apps the actor can view (all of them, or one team's)."""
    ids = access.visible_app_ids(tx, actor.id)
    query = select(AppRow).where(AppRow.id.in_(ids)).order_by(AppRow.name)
    if team_id is not None:
        query = query.where(AppRow.team_id == team_id)
    return [app_view(tx, r) for r in tx.session.scalars(query)]


def get_app(tx: Tx, actor: views.Actor, ident: str) -> views.App:
    return app_view(tx, find_app_row(tx, actor, ident))


def update_app(
    tx: Tx,
    actor: views.Actor,
    ident: str,
    *,
    name: str | None = None,
    maintenance: bool | None = None,
    build_stack: str | None = None,
    sleeps: bool | None = None,
) -> views.App:
    row = find_app_row(tx, actor, ident, lock=True)
    if (name is not None and name != row.name) or (
        build_stack is not None and build_stack != row.build_stack
    ):
        # Renaming and changing the stack are manage's; maintenance and sleeping, operate's.
        access.authorise(tx, actor, row, MANAGE)
    if name is not None and name != row.name:
        validate_app_name(name)
        if _name_taken(tx, name):
            raise InvalidParams(f"Name {name} is already taken; choose another.")
        audit.record(tx, actor, "app-rename", f"Renamed {row.name} to {name}", app=row)
        row.name = name
        # The router finds apps by name: it needs the new one.
        tx.emit(RuntimeChanged(row.id))
    if sleeps is not None and sleeps != row.sleeps:
        row.sleeps = sleeps
        tx.emit(RuntimeChanged(row.id))
    if maintenance is not None and maintenance != row.maintenance:
        row.maintenance = maintenance
        tx.emit(RuntimeChanged(row.id))
        state = "on" if maintenance else "off"
        audit.record(tx, actor, "maintenance", f"Maintenance mode {state}", app=row)
    if build_stack is not None and build_stack != row.build_stack:
        if build_stack != tx.settings.stack:
            raise InvalidParams(
                f"Stack {build_stack!r} is not available here; use {tx.settings.stack}."
            )
        row.build_stack = build_stack
    row.updated_at = tx.clock.now()
    tx.session.flush()
    return app_view(tx, row)


def delete_app(tx: Tx, actor: views.Actor, ident: str) -> views.App:
    row = find_app_row(tx, actor, ident, lock=True)
    view = app_view(tx, row)
    audit.record(tx, actor, "app-destroy", f"Destroyed {row.name}", app=row)
    # Children first: releases hold slugs with RESTRICT, so the order matters.
    for model in (FormationRow, BuildRow, LogDrainRow, MetricRow, ReleaseRow, SlugRow):
        tx.session.execute(delete(model).where(model.app_id == row.id))
    tx.session.delete(row)
    tx.emit(AppDestroyed(row.id))
    return view
