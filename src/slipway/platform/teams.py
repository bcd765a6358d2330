"""Teams (Heroku's): members with roles, the team's apps, and moving apps in and out.

Roles: an `admin` manages the team and has every permission on its apps; a
`member` sees every team app and may create apps; a `viewer` only sees them.
Per-app permissions come from `collaborators.py`. A team always keeps one
admin: removing or demoting the last one is refused.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from slipway.platform import access, audit, views
from slipway.platform.accounts import find_account_row, normalise_email
from slipway.platform.apps import app_view, create_app, find_app_row
from slipway.platform.authorizations import account_view
from slipway.platform.collaborators import forget_team_grants
from slipway.platform.errors import Conflict, Forbidden, InvalidParams, NotFound
from slipway.platform.events import AccessChanged
from slipway.platform.names import validate_app_name
from slipway.platform.permissions import ALL_PERMISSIONS, OWNER, TEAM_ROLES, sorted_names
from slipway.platform.tx import Tx
from slipway.store.models import AccountRow, AppRow, CollaboratorRow, TeamMemberRow, TeamRow

# What `GET /teams/T/features` says: per-app permissions are on (the CLI's access:add
# --permissions needs `org-access-controls`); members:add adds people at once.
FEATURES = (
    ("org-access-controls", True, "Per-app permissions for team members."),
    ("team-invite-acceptance", False, "Members added to the team must accept an invitation."),
)


def _team_view(tx: Tx, row: TeamRow, account_id: str) -> views.Team:
    return views.Team(
        id=row.id,
        name=row.name,
        role=access.team_role(tx, account_id, row.id),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def find_team(tx: Tx, actor: views.Actor, ident: str) -> TeamRow:
    """A team the actor belongs to (admins of Slipway see every team)."""
    row = tx.session.scalar(select(TeamRow).where((TeamRow.id == ident) | (TeamRow.name == ident)))
    if row is None or (access.team_role(tx, actor.id, row.id) is None and not actor.is_admin):
        raise NotFound(f"Couldn't find that team ({ident}).", resource="team")
    return row


def _require_admin(tx: Tx, actor: views.Actor, team: TeamRow) -> None:
    if access.team_role(tx, actor.id, team.id) != "admin":
        raise Forbidden(f"Only an admin of the team {team.name} can do this; ask one of them.")


def create_team(tx: Tx, actor: views.Actor, name: str) -> views.Team:
    """Any account may make a team; it becomes the team's first admin."""
    validate_app_name(name)  # the same rules as app names: lowercase, digits, dashes
    if tx.session.scalar(select(TeamRow.id).where(TeamRow.name == name)) is not None:
        raise Conflict(f"The team name {name} is taken; choose another.")
    now = tx.clock.now()
    row = TeamRow(id=str(uuid.uuid4()), name=name, created_at=now, updated_at=now)
    tx.session.add(row)
    tx.session.flush()
    _add_member_row(tx, row, actor.id, "admin")
    audit.record(tx, actor, "team-create", f"Created the team {name}")
    return _team_view(tx, row, actor.id)


def list_teams(tx: Tx, actor: views.Actor) -> list[views.Team]:
    teams = select(TeamMemberRow.team_id).where(TeamMemberRow.account_id == actor.id)
    rows = tx.session.scalars(select(TeamRow).where(TeamRow.id.in_(teams)).order_by(TeamRow.name))
    return [_team_view(tx, r, actor.id) for r in rows]


def get_team(tx: Tx, actor: views.Actor, ident: str) -> views.Team:
    return _team_view(tx, find_team(tx, actor, ident), actor.id)


def _member_view(tx: Tx, row: TeamMemberRow) -> views.TeamMember:
    user = tx.session.get(AccountRow, row.account_id)
    assert user is not None
    return views.TeamMember(
        id=row.id,
        team_id=row.team_id,
        user=account_view(user),
        role=row.role,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_members(tx: Tx, actor: views.Actor, ident: str) -> list[views.TeamMember]:
    team = find_team(tx, actor, ident)
    rows = tx.session.scalars(
        select(TeamMemberRow)
        .join(AccountRow, AccountRow.id == TeamMemberRow.account_id)
        .where(TeamMemberRow.team_id == team.id)
        .order_by(AccountRow.email)
    )
    return [_member_view(tx, r) for r in rows]


def _role(role: str) -> str:
    if role not in TEAM_ROLES:
        raise InvalidParams(f"Role {role!r} is not known; use {', '.join(TEAM_ROLES)}.")
    return role


def _add_member_row(tx: Tx, team: TeamRow, account_id: str, role: str) -> TeamMemberRow:
    now = tx.clock.now()
    row = TeamMemberRow(
        id=str(uuid.uuid4()),
        team_id=team.id,
        account_id=account_id,
        role=role,
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    return row


def _member_row(tx: Tx, team: TeamRow, email: str) -> TeamMemberRow | None:
    user = find_account_row(tx, email)
    if user is None:
        return None
    return tx.session.scalar(
        select(TeamMemberRow).where(
            TeamMemberRow.team_id == team.id, TeamMemberRow.account_id == user.id
        )
    )


def _admins(tx: Tx, team_id: str) -> int:
    return int(
        tx.session.scalar(
            select(func.count())
            .select_from(TeamMemberRow)
            .where(TeamMemberRow.team_id == team_id, TeamMemberRow.role == "admin")
        )
        or 0
    )


def _keeps_an_admin(tx: Tx, team: TeamRow, row: TeamMemberRow, new_role: str | None) -> None:
    if row.role == "admin" and new_role != "admin" and _admins(tx, team.id) <= 1:
        raise InvalidParams(f"{team.name} would have no admin left; make someone else admin first.")


def set_member(
    tx: Tx, actor: views.Actor, ident: str, email: str, role: str, *, create: bool
) -> views.TeamMember:
    """`members:add` (PUT: add, or change the role) and `members:set` (PATCH: change)."""
    team = find_team(tx, actor, ident)
    _require_admin(tx, actor, team)
    role = _role(role)
    email = normalise_email(email)
    row = _member_row(tx, team, email)
    if row is None:
        if not create:
            raise NotFound(f"{email} is not a member of {team.name}.", resource="team-member")
        user = find_account_row(tx, email)
        if user is None:
            raise NotFound(
                f"There is no account for {email} here; invite them to the team with "
                f"`slipway accounts:invite {email} --team {team.name} --role {role}`.",
                resource="user",
            )
        row = _add_member_row(tx, team, user.id, role)
        audit.record(tx, actor, "member-add", f"Added {email} to {team.name} as {role}")
    else:
        _keeps_an_admin(tx, team, row, role)
        row.role = role
        row.updated_at = tx.clock.now()
        tx.emit(AccessChanged(row.account_id))
        audit.record(tx, actor, "member-set", f"Made {email} {role} of {team.name}")
    return _member_view(tx, row)


def remove_member(tx: Tx, actor: views.Actor, ident: str, email: str) -> views.TeamMember:
    team = find_team(tx, actor, ident)
    row = _member_row(tx, team, normalise_email(email))
    if row is None:
        raise NotFound(f"{email} is not a member of {team.name}.", resource="team-member")
    if row.account_id != actor.id:
        _require_admin(tx, actor, team)
    _keeps_an_admin(tx, team, row, None)
    view = _member_view(tx, row)
    forget_team_grants(tx, team.id, row.account_id)
    tx.session.delete(row)
    tx.emit(AccessChanged(row.account_id))
    audit.record(tx, actor, "member-remove", f"Removed {view.user.email} from {team.name}")
    return view


def features(tx: Tx, actor: views.Actor, ident: str) -> list[tuple[str, bool, str]]:
    find_team(tx, actor, ident)
    return list(FEATURES)


def list_team_apps(tx: Tx, actor: views.Actor, ident: str) -> list[views.App]:
    from slipway.platform.apps import list_apps

    team = find_team(tx, actor, ident)
    return list_apps(tx, actor, team_id=team.id)


def create_team_app(tx: Tx, actor: views.Actor, ident: str, name: str | None) -> views.App:
    team = find_team(tx, actor, ident)
    if access.team_role(tx, actor.id, team.id) not in ("admin", "member"):
        raise Forbidden(f"A viewer of {team.name} cannot create apps; ask a team admin.")
    return create_app(tx, actor, name, team=team)


def transfer_to_owner(tx: Tx, actor: views.Actor, app_ident: str, owner: str) -> views.App:
    """`PATCH /teams/apps/A {owner}`: into a team the actor belongs to (admin or member),
    or out of a team to one of its members' personal accounts. Immediate."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    access.authorise(tx, actor, app, OWNER)
    before = app_view(tx, app)
    if "@" in owner:
        user = find_account_row(tx, owner)
        if user is None:
            raise NotFound(
                f"There is no account for {owner}; nothing was transferred.", resource="user"
            )
        if app.team_id is None:
            raise InvalidParams(
                f"{app.name} is a personal app; transfer it with `heroku apps:transfer {owner}`, "
                "which the recipient accepts."
            )
        app.team_id = None
        app.locked = False
        app.owner_id = user.id
        target = user.email
    else:
        team = tx.session.scalar(select(TeamRow).where(TeamRow.name == owner))
        if team is None or access.team_role(tx, actor.id, team.id) not in ("admin", "member"):
            raise NotFound(
                f"Couldn't find the team {owner} among yours; nothing was transferred.",
                resource="team",
            )
        if app.team_id is None and access.team_role(tx, app.owner_id, team.id) != "admin":
            # The person who brings the app keeps every permission on it, as its creator would.
            grant_all(tx, app, app.owner_id)
        app.team_id = team.id
        target = team.name
    app.updated_at = tx.clock.now()
    # Personal collaborators' grants meant "all but the owner's"; on a team they are
    # given as explicit permissions, which `collaborators` keeps as they were (all).
    tx.emit(AccessChanged())
    audit.record(
        tx, actor, "app-transfer", f"Transferred from {before.owner.email} to {target}", app=app
    )
    return app_view(tx, app)


def grant_all(tx: Tx, app: AppRow, account_id: str) -> None:
    row = tx.session.scalar(
        select(CollaboratorRow).where(
            CollaboratorRow.app_id == app.id, CollaboratorRow.account_id == account_id
        )
    )
    now = tx.clock.now()
    if row is None:
        row = CollaboratorRow(
            id=str(uuid.uuid4()), app_id=app.id, account_id=account_id, created_at=now
        )
        tx.session.add(row)
    row.permissions = sorted_names(ALL_PERMISSIONS)
    row.updated_at = now


def set_locked(tx: Tx, actor: views.Actor, app_ident: str, locked: bool) -> views.App:
    app = find_app_row(tx, actor, app_ident, lock=True)
    access.authorise(tx, actor, app, OWNER)
    if app.team_id is None:
        raise InvalidParams(f"{app.name} is not a team app; only team apps can be locked.")
    app.locked = locked
    app.updated_at = tx.clock.now()
    audit.record(tx, actor, "app-lock", f"{'Locked' if locked else 'Unlocked'} the app", app=app)
    return app_view(tx, app)
