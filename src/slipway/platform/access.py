"""Authorisation: the one function every door calls before it touches an app.

`authorise(tx, actor, app)` checks the actor's token scope and their standing on
the app against the need of the door they came through (`actor.need`, set from
the route's rule in `platform/route_rules.py`, or by git, the log stream and
the output URLs). API routes, `find_app_row` in every use case, git fetch and
push, log sessions and tails, build output, the run rendezvous and the data
API all end up here, so what a person may do is decided in one place.

Another person's app answers 403 with Heroku's `forbidden` and "You do not have
access to the app NAME."; an app that does not exist stays 404 (the caller's
lookup says so before this is asked).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from slipway.platform import authorizations, views
from slipway.platform.errors import Forbidden
from slipway.platform.permissions import (
    ALL_PERMISSIONS,
    MANAGE,
    VIEW,
    Need,
    Permission,
    Standing,
    permission_refusal,
    role_permissions,
    scope_refusal,
)
from slipway.platform.tx import Platform, Tx
from slipway.store.models import AppRow, CollaboratorRow, TeamMemberRow


def team_role(tx: Tx, account_id: str, team_id: str) -> str | None:
    return tx.session.scalar(
        select(TeamMemberRow.role).where(
            TeamMemberRow.team_id == team_id, TeamMemberRow.account_id == account_id
        )
    )


def standing(tx: Tx, account_id: str, app: AppRow) -> Standing | None:
    """What one account holds on one app, or None when it has no access at all."""
    grant = tx.session.scalar(
        select(CollaboratorRow.permissions).where(
            CollaboratorRow.app_id == app.id, CollaboratorRow.account_id == account_id
        )
    )
    if app.team_id is None:
        if app.owner_id == account_id:
            return Standing(ALL_PERMISSIONS, owner=True)
        # A collaborator on a personal app may do all but the owner's few things.
        return Standing(ALL_PERMISSIONS, owner=False) if grant is not None else None
    role = team_role(tx, account_id, app.team_id)
    if role == "admin":
        return Standing(ALL_PERMISSIONS, owner=True)
    permissions: set[Permission] = set(role_permissions(role)) if role else set()
    if grant is not None:
        permissions |= {Permission(p) for p in grant} | {Permission.VIEW}
    # On a team app the owner's few things (delete, transfer, access) are manage's.
    owned = Permission.MANAGE in permissions
    return Standing(frozenset(permissions), owner=owned) if permissions else None


def effective_need(need: Need) -> Need:
    """A door that names no permission yet reaches an app gets the strictest reading:
    view for a read, manage for a change (a rule left out never opens anything)."""
    if need.any_of:
        return need
    return MANAGE if need.write else VIEW


def authorise(tx: Tx, actor: views.Actor, app: AppRow, need: Need | None = None) -> None:
    """Forbidden (Heroku's `forbidden`, one sentence) unless `actor` may do `need`
    (by default the door's) to `app`."""
    wanted = effective_need(need or actor.need)
    refusal = scope_refusal(actor.scopes, wanted) or permission_refusal(
        standing(tx, actor.id, app), wanted, app.name
    )
    if refusal is not None:
        raise Forbidden(refusal)


def can(tx: Tx, actor: views.Actor, app: AppRow, need: Need = VIEW) -> bool:
    """Whether `authorise` would pass: lists show only what the actor can see."""
    try:
        authorise(tx, actor, app, need)
    except Forbidden:
        return False
    return True


def visible_app_ids(tx: Tx, account_id: str) -> set[str]:
    """Every app the account can view: its own, where it collaborates, its teams'."""
    own = set(
        tx.session.scalars(
            select(AppRow.id).where(AppRow.owner_id == account_id, AppRow.team_id.is_(None))
        )
    )
    shared = set(
        tx.session.scalars(
            select(CollaboratorRow.app_id).where(CollaboratorRow.account_id == account_id)
        )
    )
    teams = select(TeamMemberRow.team_id).where(TeamMemberRow.account_id == account_id)
    team_apps = set(tx.session.scalars(select(AppRow.id).where(AppRow.team_id.in_(teams))))
    return own | shared | team_apps


class Grant:
    """An authorisation that outlives its request: a log tail, a build's output stream.

    `still_valid()` is cheap while nothing about access changed (it compares the
    platform's access epoch and the expiry time) and asks the store again as soon
    as something did, so a revoked token, a disabled account or a removed
    collaborator is cut off at once."""

    def __init__(
        self,
        platform: Platform,
        authorization_id: str | None,
        app_id: str,
        need: Need,
    ) -> None:
        self._platform = platform
        self._authorization_id = authorization_id
        self._app_id = app_id
        self._need = need
        self._epoch = -1
        self._expires_at: dt.datetime | None = None
        self._valid = True

    def still_valid(self) -> bool:
        if not self._valid:
            return False
        clock = self._platform.clock
        if self._expires_at is not None and clock.now() >= self._expires_at:
            self._valid = False
        elif self._epoch != self._platform.access_epoch:
            self._epoch = self._platform.access_epoch
            self._valid = self._check()
        return self._valid

    def _check(self) -> bool:
        if self._authorization_id is None:
            return True  # the platform's own stream (no token behind it)
        with self._platform.tx() as tx:
            actor = authorizations.still_valid(tx, self._authorization_id)
            app = tx.session.get(AppRow, self._app_id)
            if actor is None or app is None:
                return False
            self._expires_at = authorizations.expires_at(tx, self._authorization_id)
            return can(tx, actor, app, self._need)
