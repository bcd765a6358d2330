"""`/account` (also answered for the CLI's particleboard check) and admin account creation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from slipway.api import serialize
from slipway.api.bodies import AccountCreate
from slipway.api.deps import current_account, get_platform
from slipway.platform import accounts, views

router = APIRouter()
Actor = Annotated[views.Account, Depends(current_account)]


@router.get("/account")
def get_account(actor: Actor) -> dict[str, Any]:
    return serialize.account(actor)


@router.get("/users/{ident}")
def get_user(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    if ident in ("~", actor.id, actor.email):
        return serialize.account(actor)
    with get_platform(request).tx() as tx:
        return serialize.account(accounts.get_account(tx, ident))


@router.get("/account/rate-limits")
def rate_limits(request: Request, actor: Actor) -> dict[str, Any]:
    return {"remaining": request.scope.get("state", {}).get("ratelimit_remaining")}


@router.get("/teams/{team}")
def particleboard_team(team: str, actor: Actor) -> JSONResponse:
    # Teams do not exist here; the CLI's delinquency check ignores this answer.
    return JSONResponse({"id": "not_found", "message": f"Couldn't find that team ({team})."}, 404)


@router.post("/accounts", status_code=201)
def create_account(body: AccountCreate, request: Request, actor: Actor) -> dict[str, Any]:
    """Slipway's own: an admin creates an account and receives its first API key."""
    with get_platform(request).tx() as tx:
        account, token = accounts.create_account(tx, actor, body.email)
    return {**serialize.account(account), "api_key": token}
