"""`/account`, users, admin account management, invitations and the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from slipway.api import serialize
from slipway.api.bodies import AccountAdminUpdate, AccountCreate, AccountUpdate, InvitationCreate
from slipway.api.deps import current_account, get_platform
from slipway.platform import accounts, audit, invitations, views

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


@router.get("/account")
def get_account(actor: Actor) -> dict[str, Any]:
    return serialize.account(actor.account)


@router.patch("/account")
def update_account(body: AccountUpdate, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        account = accounts.update_account(
            tx, actor, name=body.name, password=body.password, new_password=body.new_password
        )
    return serialize.account(account)


@router.get("/users/{ident}")
def get_user(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    if ident in ("~", actor.id, actor.email):
        return serialize.account(actor.account)
    with get_platform(request).tx() as tx:
        return serialize.account(accounts.get_account(tx, ident))


@router.get("/account/rate-limits")
def rate_limits(request: Request, actor: Actor) -> dict[str, Any]:
    return {"remaining": request.scope.get("state", {}).get("ratelimit_remaining")}


@router.get("/accounts")
def list_accounts(request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.admin_account(a) for a in accounts.list_accounts(tx, actor)]


@router.post("/accounts", status_code=201)
def create_account(body: AccountCreate, request: Request, actor: Actor) -> dict[str, Any]:
    """Slipway's own: an admin creates an account and receives its first API key."""
    with get_platform(request).tx() as tx:
        account, token = accounts.create_account(
            tx,
            actor,
            body.email,
            password=body.password,
            name=body.name or "",
            is_admin=bool(body.admin),
        )
    return {**serialize.admin_account(account), "api_key": token}


@router.patch("/accounts/{ident}")
def admin_update(
    ident: str, body: AccountAdminUpdate, request: Request, actor: Actor
) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        account = accounts.get_account(tx, ident)
        if body.password is not None:
            account = accounts.reset_password(tx, actor, ident, body.password)
        if body.disabled is not None:
            account = accounts.set_disabled(tx, actor, ident, body.disabled)
    return serialize.admin_account(account)


@router.post("/invitations", status_code=201)
def invite(body: InvitationCreate, request: Request, actor: Actor) -> dict[str, Any]:
    """Slipway's own: an invitation link, to an account (admins) or a team (its admins)."""
    with get_platform(request).tx() as tx:
        made = invitations.invite(tx, actor, body.email, team=body.team, role=body.role)
    return serialize.invitation(made, invitation_url(request, made.token))


def invitation_url(request: Request, token: str | None) -> str | None:
    return f"{request.app.state.public_url}/invitations/{token}" if token else None


@router.get("/audit-events")
def all_events(request: Request, actor: Actor) -> list[dict[str, Any]]:
    """Slipway's own, for admins: the whole trail, or one action (`?action=sign-in`)."""
    action = request.query_params.get("action")
    with get_platform(request).tx() as tx:
        return [serialize.audit_event(e) for e in audit.all_events(tx, actor, action)]


@router.get("/apps/{app}/audit-events")
def app_events(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    """Slipway's own: who changed what on the app (`slipway audit -a APP`)."""
    with get_platform(request).tx() as tx:
        return [serialize.audit_event(e) for e in audit.app_events(tx, actor, app)]
