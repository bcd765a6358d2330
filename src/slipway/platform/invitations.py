"""Invitations: a link that lets a person make their account (and join a team).

An admin invites anyone (`slipway accounts:invite EMAIL`); a team admin invites
to their team (`--team T --role R`, Heroku's team-invitation). The link's
secret is shown once and only its hash is stored; it expires, and it works
once. Someone who already has an account proves it with their password to join.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from sqlalchemy import select

from slipway.platform import access, audit, views
from slipway.platform.accounts import create_account_row, find_account_row, normalise_email
from slipway.platform.authorizations import account_view
from slipway.platform.errors import Forbidden, Gone, InvalidParams, NotFound, Unauthorized
from slipway.platform.permissions import TEAM_ROLES
from slipway.platform.teams import _add_member_row, find_team
from slipway.platform.tx import Tx
from slipway.store.models import AccountRow, InvitationRow, TeamMemberRow, TeamRow


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _view(tx: Tx, row: InvitationRow, token: str | None = None) -> views.Invitation:
    team = tx.session.get(TeamRow, row.team_id) if row.team_id else None
    inviter = tx.session.get(AccountRow, row.invited_by_id)
    return views.Invitation(
        id=row.id,
        email=row.email,
        team=views.TeamRef(team.id, team.name) if team else None,
        role=row.role,
        invited_by=inviter.email if inviter else "",
        expires_at=row.expires_at,
        accepted_at=row.accepted_at,
        created_at=row.created_at,
        token=token,
    )


def invite(
    tx: Tx,
    actor: views.Actor,
    email: str,
    *,
    team: str | None = None,
    role: str | None = None,
) -> views.Invitation:
    email = normalise_email(email)
    team_row = None
    if team is not None:
        team_row = find_team(tx, actor, team)
        if access.team_role(tx, actor.id, team_row.id) != "admin":
            raise Forbidden(f"Only an admin of {team_row.name} can invite people to it.")
        role = role or "member"
        if role not in TEAM_ROLES:
            raise InvalidParams(f"Role {role!r} is not known; use {', '.join(TEAM_ROLES)}.")
    elif not actor.is_admin:
        raise Forbidden("Only an admin can invite people to make an account here.")
    existing = find_account_row(tx, email)
    if team_row is None and existing is not None:
        raise InvalidParams(f"{email} has an account already; nothing to invite them to.")
    if (
        team_row is not None
        and existing is not None
        and tx.session.scalar(
            select(TeamMemberRow.id).where(
                TeamMemberRow.team_id == team_row.id, TeamMemberRow.account_id == existing.id
            )
        )
    ):
        raise InvalidParams(f"{email} is a member of {team_row.name} already.")
    token = secrets.token_urlsafe(32)
    now = tx.clock.now()
    row = InvitationRow(
        id=str(uuid.uuid4()),
        email=email,
        token_hash=_digest(token),
        team_id=team_row.id if team_row else None,
        role=role if team_row else None,
        invited_by_id=actor.id,
        expires_at=now + dt.timedelta(days=tx.settings.invitation_days),
        created_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    where = f" to {team_row.name} as {role}" if team_row else ""
    audit.record(tx, actor, "invite", f"Invited {email}{where}")
    return _view(tx, row, token)


def team_invitations(tx: Tx, actor: views.Actor, team: str) -> list[views.Invitation]:
    row = find_team(tx, actor, team)
    now = tx.clock.now()
    rows = tx.session.scalars(
        select(InvitationRow)
        .where(InvitationRow.team_id == row.id, InvitationRow.accepted_at.is_(None))
        .order_by(InvitationRow.created_at)
    )
    return [_view(tx, r) for r in rows if r.expires_at > now]


def cancel_team_invitation(tx: Tx, actor: views.Actor, team: str, ident: str) -> None:
    row = find_team(tx, actor, team)
    if access.team_role(tx, actor.id, row.id) != "admin":
        raise Forbidden(f"Only an admin of {row.name} can cancel its invitations.")
    found = tx.session.scalar(
        select(InvitationRow).where(
            InvitationRow.team_id == row.id,
            (InvitationRow.id == ident) | (InvitationRow.email == ident.lower()),
            InvitationRow.accepted_at.is_(None),
        )
    )
    if found is None:
        raise NotFound(f"Couldn't find that invitation ({ident}).", resource="team-invitation")
    tx.session.delete(found)


def _usable(tx: Tx, token: str, *, lock: bool = False) -> InvitationRow:
    query = select(InvitationRow).where(InvitationRow.token_hash == _digest(token))
    if lock:
        query = query.with_for_update()
    row = tx.session.scalar(query)
    if row is None:
        raise NotFound(
            "This invitation link is not valid; ask for a new one.", resource="invitation"
        )
    if row.accepted_at is not None:
        raise Gone("This invitation was used already; sign in, or ask for a new one.")
    if row.expires_at <= tx.clock.now():
        raise Gone("This invitation has expired; ask whoever invited you for a new one.")
    return row


def show(tx: Tx, token: str) -> views.Invitation:
    """What the link invites to, and whether the email already has an account."""
    return _view(tx, _usable(tx, token))


def has_account(tx: Tx, invitation: views.Invitation) -> bool:
    return find_account_row(tx, invitation.email) is not None


def accept(
    tx: Tx, token: str, *, password: str, name: str = "", address: str | None = None
) -> views.Account:
    """Make the account (with this password), or for an existing one check its password;
    then join the team if the invitation names one. Works once."""
    row = _usable(tx, token, lock=True)
    account = find_account_row(tx, row.email)
    if account is None:
        account = create_account_row(tx, row.email, password=password, name=name)
    elif not tx.passwords.verify(account.password_hash, password):
        raise Unauthorized(
            f"{row.email} has an account already: give its password to accept the invitation."
        )
    team = tx.session.get(TeamRow, row.team_id) if row.team_id else None
    if team is not None and not tx.session.scalar(
        select(TeamMemberRow.id).where(
            TeamMemberRow.team_id == team.id, TeamMemberRow.account_id == account.id
        )
    ):
        _add_member_row(tx, team, account.id, row.role or "member")
    row.accepted_at = tx.clock.now()
    view = account_view(account)
    where = f" and joined {team.name}" if team else ""
    audit.record(tx, view, "invitation-accept", f"Accepted the invitation{where}", address=address)
    return view
