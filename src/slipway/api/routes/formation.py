"""`/apps/{app}/formation`: list, info, batch update, update one type."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from slipway.api import serialize
from slipway.api.bodies import FormationBatch, FormationChange
from slipway.api.deps import current_account, get_platform
from slipway.platform import formations, views
from slipway.platform.formation_rules import FormationUpdate

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


def _update(ptype: str, change: FormationChange) -> FormationUpdate:
    size = change.size or (change.dyno_size.name if change.dyno_size else None)
    return FormationUpdate(type=ptype, quantity=change.quantity, size=size)


@router.get("/apps/{app}/formation")
def list_formation(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.formation(f) for f in formations.list_formation(tx, actor, app)]


@router.patch("/apps/{app}/formation")
def batch_update(
    app: str, body: FormationBatch, request: Request, actor: Actor
) -> list[dict[str, Any]]:
    updates = [_update(u.type, u) for u in body.updates]
    with get_platform(request).tx() as tx:
        result = formations.update_formation(tx, actor, app, updates)
    return [serialize.formation(f) for f in result]


@router.get("/apps/{app}/formation/{ptype}")
def get_formation(app: str, ptype: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.formation(formations.get_formation(tx, actor, app, ptype))


@router.patch("/apps/{app}/formation/{ptype}")
def update_one(
    app: str, ptype: str, body: FormationChange, request: Request, actor: Actor
) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        result = formations.update_formation(tx, actor, app, [_update(ptype, body)])
    return next(serialize.formation(f) for f in result if f.type == ptype)
