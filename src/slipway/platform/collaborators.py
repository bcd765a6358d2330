"""Collaborators (`heroku access`): who else may use an app, and with which permissions.

On a personal app a collaborator may do everything but delete it, transfer it
or manage who has access (Heroku's rule; `--permissions` is ignored there, as
the CLI ignores it). On a team app each collaborator or member carries its own
permissions (`view` always among them), and team admins have them all.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from slipway.platform import access, audit, views
from slipway.platform.accounts import find_account_row, normalise_email
from slipway.platform.apps import find_app_row
from slipway.platform.authorizations import account_view
from slipway.platform.errors import Forbidden, InvalidParams, NotFound
from slipway.platform.events import AccessChanged
from slipway.platform.permissions import (
    ALL_PERMISSIONS,
    OWNER,
    Permission,
    normalise_permissions,
    sorted_names,
)
from slipway.platform.tx import Tx
from slipway.store.models import AccountRow, AppRow, CollaboratorRow


def _permissions(names: list[str]) -> tuple[Permission, ...]:
    return tuple(Permission(n) for n in sorted_names(Permission(p) for p in names))


def _view(tx: Tx, app: AppRow, row: CollaboratorRow) -> views.Collaborator:
    user = tx.session.get(AccountRow, row.account_id)
    assert user is not None
    role = "collaborator"
    if app.team_id is not None:
        role = access.team_role(tx, user.id, app.team_id) or "collaborator"
    permissions = (
        _permissions(row.permissions) if app.team_id else tuple(sorted_perm(ALL_PERMISSIONS))
    )
    return views.Collaborator(
        id=row.id,
        app_id=app.id,
        app_name=app.name,
        user=account_view(user),
        role=role,
        permissions=permissions,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def sorted_perm(permissions: frozenset[Permission]) -> list[Permission]:
    return [Permission(n) for n in sorted_names(permissions)]


def _owner_view(tx: Tx, app: AppRow) -> views.Collaborator:
    owner = tx.session.get(AccountRow, app.owner_id)
    assert owner is not None
    return views.Collaborator(
        id=owner.id,
        app_id=app.id,
        app_name=app.name,
        user=account_view(owner),
        role="owner",
        permissions=tuple(sorted_perm(ALL_PERMISSIONS)),
        created_at=app.created_at,
        updated_at=app.updated_at,
    )


def list_collaborators(tx: Tx, actor: views.Actor, app_ident: str) -> list[views.Collaborator]:
    """The owner of a personal app first, then everyone with a grant."""
    app = find_app_row(tx, actor, app_ident)
    rows = tx.session.scalars(
        select(CollaboratorRow)
        .where(CollaboratorRow.app_id == app.id)
        .order_by(CollaboratorRow.created_at)
    )
    found = [_view(tx, app, r) for r in rows]
    return ([_owner_view(tx, app)] if app.team_id is None else []) + found


def get_collaborator(tx: Tx, actor: views.Actor, app_ident: str, user: str) -> views.Collaborator:
    app = find_app_row(tx, actor, app_ident)
    for collaborator in list_collaborators(tx, actor, app.id):
        if user in (collaborator.id, collaborator.user.id, collaborator.user.email):
            return collaborator
    raise NotFound(f"Couldn't find that collaborator ({user}).", resource="collaborator")


def _account(tx: Tx, email: str) -> AccountRow:
    row = find_account_row(tx, normalise_email(email))
    if row is None:
        raise NotFound(
            f"There is no account for {email} here; an admin can invite them "
            f"(`slipway accounts:invite {email}`), then add them again.",
            resource="user",
        )
    return row


def add_collaborator(
    tx: Tx,
    actor: views.Actor,
    app_ident: str,
    email: str,
    *,
    permissions: list[str] | None = None,
) -> views.Collaborator:
    """POST /apps/A/collaborators (personal) or /teams/apps/A/collaborators (team)."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    access.authorise(tx, actor, app, OWNER)
    user = _account(tx, email)
    if app.team_id is None and user.id == app.owner_id:
        raise InvalidParams(f"{user.email} owns {app.name} already.")
    existing = tx.session.scalar(
        select(CollaboratorRow).where(
            CollaboratorRow.app_id == app.id, CollaboratorRow.account_id == user.id
        )
    )
    if existing is not None:
        raise InvalidParams(f"{user.email} is already a collaborator on {app.name}.")
    if app.team_id is not None:
        member = access.team_role(tx, user.id, app.team_id)
        if app.locked and member is None:
            raise Forbidden(
                f"{app.name} is locked: only members of its team can be added; "
                "unlock it first (`heroku apps:unlock`)."
            )
        if permissions is None:
            raise InvalidParams("Say which permissions to give with --permissions.")
        try:
            chosen = normalise_permissions(permissions)
        except ValueError as exc:
            raise InvalidParams(str(exc)) from exc
    else:
        chosen = ALL_PERMISSIONS
    now = tx.clock.now()
    row = CollaboratorRow(
        id=str(uuid.uuid4()),
        app_id=app.id,
        account_id=user.id,
        permissions=sorted_names(chosen),
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    granted = ", ".join(row.permissions)
    audit.record(tx, actor, "access-add", f"Gave {user.email} access ({granted})", app=app)
    tx.log(app.id, f"Added {user.email} as a collaborator by user {actor.email}")
    return _view(tx, app, row)


def update_collaborator(
    tx: Tx, actor: views.Actor, app_ident: str, email: str, permissions: list[str]
) -> views.Collaborator:
    """`access:update`: a team app's collaborator gets a new set of permissions."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    access.authorise(tx, actor, app, OWNER)
    if app.team_id is None:
        raise InvalidParams(
            f"Permissions of {app.name} cannot be changed: it is a personal app, not a team's."
        )
    row = _collaborator_row(tx, app, email)
    try:
        row.permissions = sorted_names(normalise_permissions(permissions))
    except ValueError as exc:
        raise InvalidParams(str(exc)) from exc
    row.updated_at = tx.clock.now()
    tx.emit(AccessChanged(row.account_id))
    audit.record(
        tx, actor, "access-update", f"Set {email} to {', '.join(row.permissions)}", app=app
    )
    return _view(tx, app, row)


def _collaborator_row(tx: Tx, app: AppRow, email: str) -> CollaboratorRow:
    user = find_account_row(tx, email)
    row = (
        tx.session.scalar(
            select(CollaboratorRow).where(
                CollaboratorRow.app_id == app.id, CollaboratorRow.account_id == user.id
            )
        )
        if user is not None
        else None
    )
    if row is None:
        raise NotFound(f"{email} is not a collaborator on {app.name}.", resource="collaborator")
    return row


def remove_collaborator(
    tx: Tx, actor: views.Actor, app_ident: str, email: str
) -> views.Collaborator:
    """The owner (manage, on team apps) removes anyone; anyone may remove themselves."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    if email.strip().lower() not in (actor.email, actor.id):
        access.authorise(tx, actor, app, OWNER)
    row = _collaborator_row(tx, app, email)
    view = _view(tx, app, row)
    tx.session.delete(row)
    # Their open log tails end now, not at their next request.
    tx.emit(AccessChanged(row.account_id))
    audit.record(tx, actor, "access-remove", f"Removed {view.user.email}'s access", app=app)
    tx.log(app.id, f"Removed {view.user.email} as a collaborator by user {actor.email}")
    return view


def forget_team_grants(tx: Tx, team_id: str, account_id: str) -> None:
    """Someone leaves a team: their grants on its apps go with them."""
    for row in tx.session.scalars(
        select(CollaboratorRow)
        .join(AppRow, AppRow.id == CollaboratorRow.app_id)
        .where(AppRow.team_id == team_id, CollaboratorRow.account_id == account_id)
    ):
        tx.session.delete(row)
