"""Who has access to an app: collaborators (`heroku access`) and app transfers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from slipway.api import serialize
from slipway.api.bodies import AppTransferCreate, AppTransferUpdate, CollaboratorCreate
from slipway.api.deps import current_account, get_platform
from slipway.platform import collaborators, transfers, views

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


@router.get("/apps/{app}/collaborators")
def list_collaborators(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.collaborator(c) for c in collaborators.list_collaborators(tx, actor, app)]


@router.post("/apps/{app}/collaborators", status_code=201)
def add_collaborator(
    app: str, body: CollaboratorCreate, request: Request, actor: Actor
) -> dict[str, Any]:
    """`access:add EMAIL` on a personal app (team apps take permissions, below)."""
    with get_platform(request).tx() as tx:
        made = collaborators.add_collaborator(
            tx, actor, app, body.email, permissions=body.permissions
        )
    return serialize.collaborator(made)


@router.get("/apps/{app}/collaborators/{user}")
def get_collaborator(app: str, user: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.collaborator(collaborators.get_collaborator(tx, actor, app, user))


@router.delete("/apps/{app}/collaborators/{user}")
def remove_collaborator(app: str, user: str, request: Request, actor: Actor) -> dict[str, Any]:
    """`access:remove EMAIL` (the owner), or `apps:leave` (yourself)."""
    with get_platform(request).tx() as tx:
        return serialize.collaborator(collaborators.remove_collaborator(tx, actor, app, user))


@router.post("/account/app-transfers", status_code=201)
def request_transfer(body: AppTransferCreate, request: Request, actor: Actor) -> dict[str, Any]:
    """`apps:transfer EMAIL`: the recipient accepts it before anything moves."""
    with get_platform(request).tx() as tx:
        made = transfers.request_transfer(tx, actor, body.app, body.recipient)
    return serialize.app_transfer(made)


@router.get("/account/app-transfers")
def list_transfers(request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.app_transfer(t) for t in transfers.list_transfers(tx, actor)]


@router.get("/account/app-transfers/{ident}")
def get_transfer(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.app_transfer(transfers.get_transfer(tx, actor, ident))


@router.patch("/account/app-transfers/{ident}")
def answer_transfer(
    ident: str, body: AppTransferUpdate, request: Request, actor: Actor
) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.app_transfer(transfers.answer_transfer(tx, actor, ident, body.state))


@router.delete("/account/app-transfers/{ident}")
def cancel_transfer(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.app_transfer(transfers.cancel_transfer(tx, actor, ident))
