"""OAuth authorizations (`heroku login -i`, `authorizations:*`, `logout`) and sessions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from slipway.api import serialize
from slipway.api.bodies import AuthorizationCreate, AuthorizationUpdate
from slipway.api.deps import current_account, get_platform
from slipway.platform import authorizations, views
from slipway.platform.errors import NotFound

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


@router.post("/oauth/authorizations", status_code=201)
def create(
    request: Request, actor: Actor, body: AuthorizationCreate | None = None
) -> dict[str, Any]:
    """With a token: a new authorization (a CI token). With Basic email:password, as
    `heroku login -i` sends it: signing in, which makes the CLI's token."""
    body = body or AuthorizationCreate()
    with get_platform(request).tx() as tx:
        made = authorizations.create_authorization(
            tx, actor, description=body.description, scope=body.scope, expires_in=body.expires_in
        )
    return serialize.authorization(made)


@router.get("/oauth/authorizations")
def list_all(request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.authorization(a) for a in authorizations.list_authorizations(tx, actor)]


@router.get("/oauth/authorizations/{ident}")
def info(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.authorization(authorizations.get_authorization(tx, actor, ident))


@router.patch("/oauth/authorizations/{ident}")
def update(ident: str, body: AuthorizationUpdate, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        made = authorizations.update_authorization(tx, actor, ident, description=body.description)
    return serialize.authorization(made)


@router.delete("/oauth/authorizations/{ident}")
def revoke(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.authorization(authorizations.revoke_authorization(tx, actor, ident))


@router.post("/oauth/authorizations/{ident}/actions/regenerate-tokens")
def regenerate(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.authorization(authorizations.regenerate(tx, actor, ident))


@router.delete("/oauth/sessions/{ident}")
def delete_session(ident: str, actor: Actor) -> dict[str, Any]:
    """Slipway has no SSO sessions; `heroku logout` expects exactly this 404."""
    raise NotFound(f"Couldn't find that session ({ident}).", resource="session")
