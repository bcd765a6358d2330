"""Teams: members and roles, the team's apps, per-app permissions, invitations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from slipway.api import serialize
from slipway.api.bodies import (
    CollaboratorCreate,
    CollaboratorUpdate,
    TeamAppCreate,
    TeamAppUpdate,
    TeamCreate,
    TeamInvitationCreate,
    TeamMemberBody,
)
from slipway.api.deps import current_account, get_platform
from slipway.api.routes.account import invitation_url
from slipway.platform import apps, collaborators, invitations, teams, views
from slipway.platform.errors import InvalidParams
from slipway.platform.permissions import Permission

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


# The /teams/apps and /teams/permissions routes come before /teams/{team}: a team named
# `apps` would otherwise shadow them.


@router.post("/teams/apps", status_code=201)
def create_team_app(body: TeamAppCreate, request: Request, actor: Actor) -> dict[str, Any]:
    """`apps:create --team T`."""
    team = body.team or body.organization
    if not team:
        raise InvalidParams("Say which team the app is for (team).")
    with get_platform(request).tx() as tx:
        return serialize.app(teams.create_team_app(tx, actor, team, body.name))


@router.get("/teams/apps/{app}")
def get_team_app(app: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.app(apps.get_app(tx, actor, app))


@router.patch("/teams/apps/{app}")
def update_team_app(
    app: str, body: TeamAppUpdate, request: Request, actor: Actor
) -> dict[str, Any]:
    """`apps:transfer TEAM` / `apps:transfer EMAIL` of a team app, `apps:lock`/`unlock`."""
    with get_platform(request).tx() as tx:
        view = apps.get_app(tx, actor, app)
        if body.owner is not None:
            view = teams.transfer_to_owner(tx, actor, app, body.owner)
        if body.locked is not None:
            view = teams.set_locked(tx, actor, app, body.locked)
    return serialize.app(view)


@router.post("/teams/apps/{app}/collaborators", status_code=201)
def add_team_collaborator(
    app: str, body: CollaboratorCreate, request: Request, actor: Actor
) -> dict[str, Any]:
    """`access:add EMAIL --permissions deploy,operate` on a team app."""
    with get_platform(request).tx() as tx:
        made = collaborators.add_collaborator(
            tx, actor, app, body.email, permissions=body.permissions or []
        )
    return serialize.collaborator(made)


@router.patch("/teams/apps/{app}/collaborators/{user}")
def update_team_collaborator(
    app: str, user: str, body: CollaboratorUpdate, request: Request, actor: Actor
) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        made = collaborators.update_collaborator(tx, actor, app, user, body.permissions)
    return serialize.collaborator(made)


@router.get("/teams/permissions")
def permissions(actor: Actor) -> list[dict[str, Any]]:
    return [serialize.permission(p) for p in Permission]


@router.get("/teams")
def list_teams(request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.team(t) for t in teams.list_teams(tx, actor)]


@router.post("/teams", status_code=201)
def create_team(body: TeamCreate, request: Request, actor: Actor) -> dict[str, Any]:
    """Any account may start a team (`slipway teams:create NAME`) and is its admin."""
    with get_platform(request).tx() as tx:
        return serialize.team(teams.create_team(tx, actor, body.name))


@router.get("/teams/{team}")
def get_team(team: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.team(teams.get_team(tx, actor, team))


@router.get("/teams/{team}/features")
def team_features(team: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        found = teams.features(tx, actor, team)
    return [
        {"id": name, "name": name, "enabled": enabled, "description": text, "state": "general"}
        for name, enabled, text in found
    ]


@router.get("/teams/{team}/members")
def list_members(team: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.team_member(m) for m in teams.list_members(tx, actor, team)]


@router.put("/teams/{team}/members")
def add_member(team: str, body: TeamMemberBody, request: Request, actor: Actor) -> dict[str, Any]:
    """`members:add EMAIL --role R` (or change their role)."""
    with get_platform(request).tx() as tx:
        made = teams.set_member(tx, actor, team, body.email, body.role, create=True)
    return serialize.team_member(made)


@router.patch("/teams/{team}/members")
def set_member(team: str, body: TeamMemberBody, request: Request, actor: Actor) -> dict[str, Any]:
    """`members:set EMAIL --role R`."""
    with get_platform(request).tx() as tx:
        made = teams.set_member(tx, actor, team, body.email, body.role, create=False)
    return serialize.team_member(made)


@router.delete("/teams/{team}/members/{user}")
def remove_member(team: str, user: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.team_member(teams.remove_member(tx, actor, team, user))


@router.get("/teams/{team}/invitations")
def list_invitations(team: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.invitation(i) for i in invitations.team_invitations(tx, actor, team)]


@router.put("/teams/{team}/invitations")
def invite(team: str, body: TeamInvitationCreate, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        made = invitations.invite(tx, actor, body.email, team=team, role=body.role)
    return serialize.invitation(made, invitation_url(request, made.token))


@router.delete("/teams/{team}/invitations/{ident}")
def cancel_invitation(team: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        invitations.cancel_team_invitation(tx, actor, team, ident)
    return {}


@router.get("/teams/{team}/apps")
def list_team_apps(team: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.app(a) for a in teams.list_team_apps(tx, actor, team)]
